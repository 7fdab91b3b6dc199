"""Importers on the real public sets in ../shared/data (read in place)."""

import json
from collections import Counter

from medinject.io import load_records, read_passages
from medinject.records import Task


def test_frenchmedmcqa_train_counts_and_validates(shared_data, run_cli, tmp_path):
    src = shared_data / "frenchmedmcqa" / "train.json"
    out = tmp_path / "X.jsonl"
    code, stdout, _ = run_cli("ingest", src, "--format", "frenchmedmcqa", "--origin", "native", "--split", "train",
                              "-o", out)
    assert code == 0 and "2171 records" in stdout
    records = load_records(out)
    items = json.loads(src.read_text(encoding="utf-8"))
    single = sum(1 for it in items if it["nbr_correct_answers"] == 1)
    assert len(records) == len(items) == 2171
    assert Counter(r.task for r in records)[Task.MCQU] == single
    assert all(r.origin.value == "native" and r.lang == "fr" and r.split == "train" for r in records)
    # letters upper-cased and in letter order; the one repeated source id gets a unique suffix
    assert all(list(r.options) == sorted(r.options) and all(k.isupper() for k in r.options) for r in records)
    assert len({r.id for r in records}) == 2171
    dup = [r for r in records if "duplicate_of" in r.meta]
    assert len(dup) == 1 and dup[0].id == dup[0].meta["duplicate_of"] + "-2"
    code, stdout, stderr = run_cli("validate", out)
    assert code == 0, stderr
    assert "2171 records, all valid" in stdout


def test_medqa_test_is_1273_four_option_english_mcqu(shared_data, run_cli, tmp_path):
    out = tmp_path / "medqa.jsonl"
    code, _, err = run_cli("ingest", shared_data / "medqa_usmle_4opt" / "test.jsonl", "--format", "medqa",
                           "--origin", "native", "--split", "test", "-o", out)
    assert code == 0, err
    records = load_records(out)
    assert len(records) == 1273
    assert all(r.task is Task.MCQU and list(r.options) == ["A", "B", "C", "D"] and r.lang == "en" for r in records)
    # the gold letter points at the gold text given beside it in the source
    first = json.loads((shared_data / "medqa_usmle_4opt" / "test.jsonl").open().readline())
    assert records[0].options[records[0].answer[0]] == first["answer"]


def test_mmlu_folder_ingests_every_csv(shared_data, run_cli, tmp_path):
    folder = shared_data / "mmlu_medical" / "test"
    out = tmp_path / "mmlu.jsonl"
    code, _, err = run_cli("ingest", folder, "--format", "mmlu", "--origin", "native", "--split", "test", "-o", out)
    assert code == 0, err
    records = load_records(out)
    import csv

    per_file = {f.stem.removesuffix("_test"): sum(1 for _ in csv.reader(f.open(encoding="utf-8")))
                for f in folder.glob("*.csv")}
    assert len(per_file) == 6
    assert Counter(r.meta["subject"] for r in records) == per_file
    assert len(records) == sum(per_file.values()) == 1099
    assert all(len(r.options) == 4 and r.lang == "en" for r in records)


def test_passage_importers(shared_data, run_cli, tmp_path):
    e3c, morfitt = tmp_path / "e3c.jsonl", tmp_path / "morfitt.jsonl"
    assert run_cli("ingest", shared_data / "e3c_fr_clinical_cases" / "e3c_fr_layer1_layer2.jsonl",
                   "--format", "e3c", "-o", e3c)[0] == 0
    assert run_cli("ingest", shared_data / "morfitt" / "dev.tsv", "--format", "morfitt", "-o", morfitt)[0] == 0
    cases, abstracts = list(read_passages(e3c)), list(read_passages(morfitt))
    assert len(cases) == 249 and len(abstracts) == 1022
    assert all(p.lang == "fr" and p.text.strip() for p in cases + abstracts)
    assert all(isinstance(p.meta["labels"], list) and p.meta["labels"] for p in abstracts)
