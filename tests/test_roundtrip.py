"""Records survive every layout they are written to: merged MedInjection-FR Parquet, reference-eval JSON, Parquet,
datasets (the component folders: tests/ingest/test_medinjection.py)."""

import json

import pytest

from medinject.export import export_records
from medinject.io import from_dataset, load_records, record_schema, to_dataset, write_records
from medinject.records import Record


def rec(**kw):
    base = dict(id="r1", task="mcqu", question="Quel est le traitement ?", options={"A": "x", "B": "y", "C": "z"},
                answer=["B"], origin="native", source="t", split="train", lang="fr")
    base.update(kw)
    return Record(**base)


RECORDS = [
    rec(),
    rec(id="r2", task="mcq", answer=["C", "A"], context="Patiente de 45 ans.\n\nQuestion : piège dans le contexte",
        meta={"model": "m", "scores": [1, 2], "nested": {"k": None}}),
    rec(id="r3", task="oeq", options={}, answer="Une réponse\nsur deux lignes.", origin="synthetic",
        parent_id="p-9", instruction="Consigne libre\n\navec une ligne vide."),
    rec(id="r4", options={"A": "première ligne\n2. seconde ligne", "C": "c", "B": "b"}, answer=["C"],
        origin="translated", split="test", parent_id="en-1"),
    rec(id="r5", task="mcq", answer=["A"], instruction="Répondez à la question à choix multiples suivante. "
        "Une seule réponse est correcte. Répondez uniquement par la lettre de la bonne réponse."),
]


@pytest.mark.parametrize("layout, suffix", [
    ("medinjection", ".parquet"),
    ("reference-eval", ".json"), ("reference-eval", ".jsonl"),
])
def test_layout_round_trip_through_the_cli(tmp_path, run_cli, layout, suffix):
    src = tmp_path / "in.jsonl"
    write_records(src, RECORDS)
    out, back = tmp_path / f"out{suffix}", tmp_path / "back.jsonl"
    assert run_cli("export", src, "--to", layout, "-o", out)[0] == 0
    code, _, err = run_cli("ingest", out, "--format", layout, "-o", back)
    assert code == 0, err
    assert load_records(back) == RECORDS


def test_reference_eval_items_have_the_reference_fields(tmp_path):
    out = tmp_path / "ref.json"
    export_records(RECORDS[:2], "reference-eval", out)
    items = json.loads(out.read_text(encoding="utf-8"))
    assert [m["role"] for m in items[0]["messages"]] == ["system", "user"]
    assert items[0]["classes"] == ["A", "B", "C"] and items[0]["answer"] == ["B"]
    assert items[1]["answer"] == ["A", "C"] and "Patiente de 45 ans." in items[1]["messages"][1]["content"]


def test_parquet_and_dataset_round_trip_keep_schema(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "r.parquet"
    write_records(path, RECORDS)
    assert load_records(path) == RECORDS
    schema = pq.read_schema(path)
    assert schema.names == record_schema().names
    assert schema.field("options").type.value_type == record_schema().field("options").type.value_type
    ds = to_dataset(RECORDS)
    assert ds.features["answer"].feature.dtype == "string" and len(ds) == len(RECORDS)
    assert from_dataset(ds) == RECORDS
    assert list(from_dataset(ds)[3].options) == ["A", "C", "B"]  # option order kept


def test_written_files_get_ordinary_permissions_and_a_bom_is_tolerated(tmp_path):
    import os
    import stat

    path = tmp_path / "r.jsonl"
    write_records(path, RECORDS[:1])
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_records(path) == RECORDS[:1]
