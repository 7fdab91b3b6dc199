"""Records survive Hugging Face datasets both ways: load_dataset("json"), DatasetDict, and the `hf` export folder."""

import datasets
import yaml

from medinject.io import from_dataset, load_records, to_dataset_dict, write_records
from medinject.records import Record


def rec(**kw):
    base = dict(id="r1", task="mcqu", question="Quel est le traitement ?", options={"A": "x", "B": "y", "C": "z"},
                answer=["B"], origin="native", source="t", split="train", lang="fr")
    return Record(**{**base, **kw})


CHOICE = [
    rec(),
    rec(id="r2", task="mcq", answer=["C", "A"], context="Patiente de 45 ans.", meta={"model": "m", "n": 2}),
    rec(id="r4", options={"A": "a", "B": "b", "C": "c", "D": "d", "E": "e"}, answer=["E"], origin="translated",
        split="test", parent_id="en-1", meta={"other": [1, 2]}),
]
OPEN = [rec(id="r3", task="oeq", options={}, answer="Une réponse\nsur deux lignes.", origin="synthetic",
            parent_id="p-9", instruction="Consigne", meta={"nested": {"k": None}}, split="validation")]


def _load_json(tmp_path, records, name):
    path = tmp_path / name
    write_records(path, records)
    return datasets.load_dataset("json", data_files=str(path), cache_dir=str(tmp_path / "cache"))


def test_load_dataset_json_then_from_dataset_gives_equal_records(tmp_path):
    # Rows sharing one set of option letters get `options` inferred as a struct ...
    dd = _load_json(tmp_path, CHOICE[:2], "same.jsonl")
    assert isinstance(dd["train"].features["options"], dict)
    assert from_dataset(dd) == CHOICE[:2]
    # ... mixed files get `Json` columns (answer is a list or a string); both read back equal.
    dd = _load_json(tmp_path, CHOICE + OPEN, "all.jsonl")
    back = from_dataset(dd["train"])
    assert back == CHOICE + OPEN
    assert [r.split for r in back] == ["train", "train", "test", "validation"]  # the row's split, not "train"


def test_struct_columns_with_nulls_for_absent_keys_read_back_without_them():
    rows = [r.model_dump(mode="json") for r in CHOICE]
    ds = datasets.Dataset.from_list(rows)  # infers the union of keys, null where a row had none
    assert ds[0]["options"]["E"] is None
    assert from_dataset(ds) == CHOICE


def test_dataset_dict_round_trip_keeps_every_split():
    dd = to_dataset_dict(CHOICE + OPEN)
    assert list(dd) == ["train", "test", "validation"]
    assert {k: len(v) for k, v in dd.items()} == {"train": 2, "test": 1, "validation": 1}
    back = from_dataset(dd)
    assert sorted(back, key=lambda r: r.id) == sorted(CHOICE + OPEN, key=lambda r: r.id)


def test_split_name_fills_rows_without_one():
    ds = datasets.Dataset.from_list([{"id": "x", "task": "oeq", "question": "q ?", "answer": "a",
                                      "origin": "native", "source": "s"}])
    (r,) = from_dataset(datasets.DatasetDict({"validation": ds}))
    assert r.split == "validation"


def test_hf_export_folder_loads_and_its_card_counts_match(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, CHOICE + OPEN)
    out = tmp_path / "hub"
    code, stdout, err = run_cli("export", src, "--to", "hf", "-o", out)
    assert code == 0, err
    assert sorted(p.name for p in (out / "data").iterdir()) == [
        "test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    card = (out / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(card.split("---\n")[1])
    dd = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    counts = {s["name"]: s["num_examples"] for s in front["dataset_info"]["splits"]}
    assert counts == {k: len(v) for k, v in dd.items()} == {"train": 2, "test": 1, "validation": 1}
    assert front["license"] == "other" and front["language"] == ["fr"]
    assert front["medinject"]["provenance"] == {"train": {"native": 2}, "test": {"translated": 1},
                                                "validation": {"synthetic": 1}}
    assert [f["name"] for f in front["dataset_info"]["features"]][:3] == ["id", "task", "question"]
    assert "| train | 2 | 0 | 0 | 2 |" in card and "| test | 0 | 0 | 1 | 1 |" in card  # native, synth., transl.
    assert sorted(from_dataset(dd), key=lambda r: r.id) == sorted(load_records(src), key=lambda r: r.id)
    assert list(from_dataset(dd["test"])[0].options) == list("ABCDE")


def test_hf_export_refuses_a_non_empty_folder_and_bad_split_names(tmp_path, run_cli):
    src = tmp_path / "in.jsonl"
    write_records(src, [rec(split="dev set")])
    code, _, err = run_cli("export", src, "--to", "hf", "-o", tmp_path / "o")
    assert code == 2 and "split name 'dev set'" in err and not (tmp_path / "o").exists()
    write_records(src, CHOICE)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    code, _, err = run_cli("export", src, "--to", "hf", "-o", tmp_path / "full")
    assert code == 2 and "not empty" in err
