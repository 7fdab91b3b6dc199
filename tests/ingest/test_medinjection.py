"""The published MedInjection-FR layouts: component JSON folders and the merged Parquet set, in and out."""

import json

import pytest

from medinject.ingest.medinjection import gold_letters, read_medinjection, task_value
from medinject.ingest.rendered import split_options
from medinject.io import load_records
from medinject.records import Origin, Record, Task


def item(user, answer, classes, reply=None):
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply or answer}],
            "classes": classes, "answer": answer}


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def native(tmp_path):
    """A Native component set: two splits, three task folders, renderings and answer spellings in use."""
    root = tmp_path / "Native"
    write(root / "Test" / "mcq" / "mediqal.json", [
        item("Quels signes ?\nChoix de réponses :\n(A) Fièvre\n(B) Toux\n(C) Rash", "A, C", ["A", "B", "C"]),
        item("Quels examens ?\nOptions :\nA. NFS\nB. CRP\nC. ECG", "A C", ["A", "B", "C"]),
        item("Lesquels ?\nA) un\nB) deux\nC) trois", "B,C", ["A", "B", "C"]),
        item("Mal rendu, les options manquent.", "A, B", ["A", "B", "C", "D"]),
    ])
    write(root / "Test" / "mcqu" / "frenchmedmcqa.json", [
        item("Quelle dose ?\nA : 1 mg\nB : 2 mg", "B", ["A", "B"]),
        item("Quel organe ?\nChoix de réponses:\nA- Foie\nB- Rein\nC- Cœur", " c ", ["A", "B", "C"]),
    ])
    write(root / "Train" / "oeq" / "sedition.json", [
        {"messages": [{"role": "user", "content": "Définir l'HTA."}, {"role": "assistant", "content": "PA ≥ 140/90."}],
         "classes": [], "answer": "PA ≥ 140/90."},
    ])
    return root


def test_component_folders_give_tasks_options_gold_and_origins(native):
    stats = {}
    recs = list(read_medinjection(native, stats=stats))
    by = {(r.source, r.id.rsplit("-", 1)[-1]): r for r in recs}
    assert len(recs) == 7 and stats["options_unparsed"] == 1
    a = by[("mediqal", "1")]
    assert (a.task, a.split, a.origin, a.question) == (Task.MCQ, "test", Origin.NATIVE, "Quels signes ?")
    assert a.options == {"A": "Fièvre", "B": "Toux", "C": "Rash"} and a.letters == ["A", "C"]
    assert by[("mediqal", "2")].letters == ["A", "C"] and by[("mediqal", "2")].options["C"] == "ECG"
    assert by[("mediqal", "3")].letters == ["B", "C"] and by[("mediqal", "3")].question == "Lesquels ?"
    assert by[("frenchmedmcqa", "1")].task is Task.MCQU and by[("frenchmedmcqa", "1")].options["B"] == "2 mg"
    assert by[("frenchmedmcqa", "2")].letters == ["C"] and by[("frenchmedmcqa", "2")].options["C"] == "Cœur"
    oeq = by[("sedition", "1")]
    assert (oeq.task, oeq.split, oeq.answer) == (Task.OEQ, "train", "PA ≥ 140/90.")
    assert all(r.meta["messages"][0]["role"] == "user" for r in recs)
    assert a.meta["messages"] == item("Quels signes ?\nChoix de réponses :\n(A) Fièvre\n(B) Toux\n(C) Rash", "A, C",
                                      ["A", "B", "C"])["messages"]


def test_a_given_split_selects_its_folder(native, tmp_path, run_cli):
    assert {r.split for r in read_medinjection(native, split="train")} == {"train"}
    assert len(list(read_medinjection(native, split="test"))) == 6
    out = tmp_path / "v.jsonl"
    code, stdout, _ = run_cli("ingest", native, "--format", "medinjection", "--split", "train", "-o", out)
    assert code == 0 and "1 records written" in stdout


def test_unparseable_options_are_kept_marked_and_keep_their_prompt(native):
    bad = [r for r in read_medinjection(native) if r.meta.get("options_parsed") is False]
    assert len(bad) == 1
    r = bad[0]
    assert r.options == {"A": "A", "B": "B", "C": "C", "D": "D"} and r.letters == ["A", "B"]
    assert r.meta["messages"][0]["content"] == "Mal rendu, les options manquent." and r.meta["options_problem"]


def test_cli_counts_unparsed_options(native, tmp_path, run_cli):
    out = tmp_path / "n.jsonl"
    code, stdout, err = run_cli("ingest", native / "Test", "--format", "medinjection", "-o", out)
    assert code == 0, err
    assert "6 records written" in stdout and "1 with options that could not be read" in stdout
    assert {r.origin for r in load_records(out)} == {Origin.NATIVE}  # from the set folder above Test


def test_origin_option_wins_and_missing_origin_is_one_line(tmp_path, run_cli):
    write(tmp_path / "set" / "Test" / "mcqu" / "x.json", [item("Q ?\n(A) a\n(B) b", "A", ["A", "B"])])
    assert next(read_medinjection(tmp_path / "set", origin=Origin.SYNTHETIC)).origin is Origin.SYNTHETIC
    code, _, err = run_cli("ingest", tmp_path / "set", "--format", "medinjection", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "origin" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_merged_parquet_layout(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {"instruction": "Quel traitement ?\nChoix de réponses :\n(A) x\n(B) y\n(C) z", "context": "", "answer": "B",
         "type": "MCQU", "origin": "Native"},
        {"instruction": "Lesquels ?\nA. a\nB. b\nC. c", "context": "Patient de 40 ans.", "answer": "A C",
         "type": "qcm", "origin": "translated"},
        {"instruction": "Expliquez.", "context": "", "answer": "Parce que.", "type": "QRO", "origin": "synthetic"},
    ]
    data = tmp_path / "ALL" / "data"
    data.mkdir(parents=True)
    table = pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in rows[0]]))
    pq.write_table(table, data / "test-00000-of-00001.parquet")
    pq.write_table(table.slice(0, 1), data / "train-00000-of-00002.parquet")
    recs = list(read_medinjection(tmp_path / "ALL"))
    assert [(r.split, r.task, r.origin) for r in recs] == [
        ("test", Task.MCQU, Origin.NATIVE), ("test", Task.MCQ, Origin.TRANSLATED), ("test", Task.OEQ, Origin.SYNTHETIC),
        ("train", Task.MCQU, Origin.NATIVE)]
    assert recs[0].options == {"A": "x", "B": "y", "C": "z"} and recs[0].letters == ["B"]
    assert recs[1].context == "Patient de 40 ans." and recs[1].letters == ["A", "C"]
    assert recs[1].meta["messages"][0]["content"] == "Patient de 40 ans.\n\nLesquels ?\nA. a\nB. b\nC. c"
    assert recs[2].answer == "Parce que." and len({r.id for r in recs}) == 4


@pytest.mark.parametrize("spelling, task", [
    ("mcq", Task.MCQ), ("MCQU", Task.MCQU), ("oeq", Task.OEQ), ("QCM", Task.MCQ), ("qcmu", Task.MCQU),
    ("QRO", Task.OEQ), ("Multiple-choice question", Task.MCQ), ("open_ended", Task.OEQ),
    ("Question à choix unique", Task.MCQU)])
def test_type_spellings(spelling, task):
    assert task_value(spelling) is task


def test_gold_spellings_and_unknown_type():
    assert gold_letters("A, C") == gold_letters("A C") == gold_letters("A,C") == gold_letters(["A", "C"]) == ["A", "C"]
    with pytest.raises(ValueError, match="type"):
        task_value("quiz")


def test_option_renderings_and_refusals():
    q, opts, after = split_options("Q ?\n\nA. un\ndeux lignes\nB. trois\n\nRépondez par la lettre.")
    assert (q, opts, after) == ("Q ?", {"A": "un\ndeux lignes", "B": "trois"}, "Répondez par la lettre.")
    with pytest.raises(ValueError, match="differ from classes"):
        split_options("Q ?\n(A) a\n(B) b", ["A", "B", "C"])
    with pytest.raises(ValueError, match="no option lines"):
        split_options("Q sans options")


def test_hub_id_offline_is_one_line(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run_cli("ingest", "medinject-test/no-such-set", "--format", "medinjection",
                           "-o", tmp_path / "o.jsonl")
    assert code == 2 and "offline" in err and len(err.strip().splitlines()) == 1


RECORDS = [
    Record(id="r1", task="mcqu", question="Quel traitement ?", options={"A": "x", "B": "y"}, answer=["B"],
           origin="native", source="fmm", split="test"),
    Record(id="r2", task="mcq", question="Lesquels ?", options={"A": "a", "B": "b\nsuite", "C": "c"},
           answer=["A", "C"], context="Patient de 40 ans.", origin="translated", source="medqa", split="train",
           meta={"k": [1, None]}),
    Record(id="r3", task="oeq", question="Expliquez.", answer="Parce que.", origin="synthetic", source="syn",
           split="validation", parent_id="p1"),
]


def test_export_writes_both_published_layouts_and_round_trips(tmp_path, run_cli):
    from medinject.io import write_records

    src, out = tmp_path / "in.jsonl", tmp_path / "pub"
    write_records(src, RECORDS)
    code, _, err = run_cli("export", src, "--to", "medinjection", "-o", out)
    assert code == 0, err
    items = json.loads((out / "Native" / "Test" / "mcqu" / "fmm.json").read_text(encoding="utf-8"))
    assert items[0]["messages"] == [{"role": "user", "content": "Quel traitement ?\nChoix de réponses :\n(A) x\n(B) y"},
                                    {"role": "assistant", "content": "B"}]
    assert items[0]["classes"] == ["A", "B"] and items[0]["answer"] == "B"
    assert (out / "Translated" / "Train" / "mcq" / "medqa.json").exists()
    assert sorted(p.name for p in (out / "ALL" / "data").iterdir()) == [
        "test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    for part in ("Native", "Translated", "Synthetic", "ALL"):
        back = tmp_path / f"{part}.jsonl"
        assert run_cli("ingest", out / part, "--format", "medinjection", "-o", back)[0] == 0
    assert load_records(tmp_path / "ALL.jsonl") == sorted(RECORDS, key=lambda r: ["test", "train",
                                                                                 "validation"].index(r.split))
    comp = [r for p in ("Native", "Translated", "Synthetic") for r in load_records(tmp_path / f"{p}.jsonl")]
    assert comp == RECORDS


def test_published_fields_alone_read_back_right(tmp_path):
    """A reader that sees only the published fields (our extra column removed) gets the same content."""
    import pyarrow.parquet as pq

    from medinject.export import export_records

    out = tmp_path / "pub"
    export_records(RECORDS, "medinjection", out)
    for f in out.rglob("*.json"):
        f.write_text(json.dumps([{k: v for k, v in i.items() if k != "medinject_record"}
                                 for i in json.loads(f.read_text(encoding="utf-8"))]), encoding="utf-8")
    for f in out.rglob("*.parquet"):
        pq.write_table(pq.read_table(f).drop(["medinject_record"]), f)
    for sub in ("Native", "Translated", "Synthetic", "ALL"):
        for r in read_medinjection(out / sub):
            orig = next(o for o in RECORDS if o.task == r.task)
            assert (r.task, r.origin, r.split, r.options, r.letters if r.is_choice else r.answer) == (
                orig.task, orig.origin, orig.split, orig.options, orig.letters if orig.is_choice else orig.answer)
            # A component item has no context field: the context stays in its user turn, before the question.
            joined = sub != "ALL" and orig.context
            assert r.question == (f"{orig.context}\n\n{orig.question}" if joined else orig.question)
            assert r.meta["options_parsed"] if r.is_choice else True


def test_published_in_published_out_is_verbatim(native, tmp_path):
    """Items imported from the published layout are written back with their own messages, unchanged."""
    from medinject.export import export_records

    recs = list(read_medinjection(native))
    out = tmp_path / "again"
    export_records(recs, "medinjection", out)
    items = json.loads((out / "Native" / "Test" / "mcq" / "mediqal.json").read_text(encoding="utf-8"))
    src = json.loads((native / "Test" / "mcq" / "mediqal.json").read_text(encoding="utf-8"))
    assert [i["messages"] for i in items] == [i["messages"] for i in src]
    assert list(read_medinjection(out / "Native")) == recs


def test_an_export_folder_holding_both_layouts_is_refused_and_each_half_reads_back(tmp_path, run_cli):
    from medinject.io import load_records, write_records
    from medinject.records import Origin, Record, Task

    recs = [Record(id=f"q{i}", task=Task.MCQU, question=f"Question {i} ?", options={"A": "oui", "B": "non"},
                   answer=["A"], origin=Origin.NATIVE, source="exam", split="test", lang="fr") for i in range(3)]
    src, folder = tmp_path / "r.jsonl", tmp_path / "pub"
    write_records(src, recs)
    assert run_cli("export", src, "--to", "medinjection", "-o", folder)[0] == 0
    code, _, err = run_cli("ingest", folder, "--format", "medinjection", "-o", tmp_path / "both.jsonl")
    assert code == 2 and "the same items twice" in err and str(folder / "ALL") in err
    assert not (tmp_path / "both.jsonl").exists()
    for half in ("ALL", "Native"):
        out = tmp_path / f"{half}.jsonl"
        assert run_cli("ingest", folder / half, "--format", "medinjection", "-o", out)[0] == 0
        assert load_records(out) == recs
