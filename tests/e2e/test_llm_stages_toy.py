"""translate, synthesize and translate-eval through a real `transformers serve` running the toy model."""

import itertools
import json

import pytest

from medinject.io import iter_jsonl, write_passages, write_records

pytestmark = pytest.mark.e2e


def test_toy_model_through_transformers_serve(toy_server, shared_data, tmp_path, run_cli):
    from medinject.ingest import ingest
    from medinject.records import Origin

    url, model = toy_server
    write_records(tmp_path / "en.jsonl", itertools.islice(
        ingest(shared_data / "medqa_usmle_4opt" / "test.jsonl", "medqa", origin=Origin.NATIVE), 3))
    write_passages(tmp_path / "e3c.jsonl", itertools.islice(
        ingest(shared_data / "e3c_fr_clinical_cases" / "e3c_fr_layer1_layer2.jsonl", "e3c"), 1))
    common = ["--model", model, "--base-url", url, "--cache", tmp_path / "cache.sqlite", "--concurrency", "2",
              "--max-tokens", "8", "--no-progress"]

    code, out, err = run_cli("translate", tmp_path / "en.jsonl", "-o", tmp_path / "fr.jsonl", *common)
    assert code == 0, err
    summary = json.loads((tmp_path / "fr.summary.json").read_text())
    rejected = [row for _, row in iter_jsonl(tmp_path / "fr.rejected.jsonl", allow_empty=True)]
    # A random toy model cannot translate: its outputs are rejected, each with a reason, and counted.
    assert summary["accepted"] + summary["rejected"] == 3 and (tmp_path / "fr.jsonl").exists()
    assert sum(summary["rejected_by_reason"].values()) == len(rejected) == summary["rejected"]
    assert all(row["reason"] and row["reason"] != "request_failed" for row in rejected)
    assert f"{summary['accepted']} accepted, {summary['rejected']} rejected of 3 items" in out

    code, out, err = run_cli("synthesize", tmp_path / "e3c.jsonl", "-o", tmp_path / "syn.jsonl",
                             "--kinds", "mcq,summary", *common)
    assert code == 0, err
    summary = json.loads((tmp_path / "syn.summary.json").read_text())
    assert summary["items"] == 2 and summary["accepted"] + summary["rejected"] == 2
    assert "request_failed" not in summary["rejected_by_reason"]

    code, out, err = run_cli("translate-eval", "--sample", "3", "--data", shared_data, *common)
    assert code == 0, err
    assert "BLEU = " in out and "chrF = " in out and "(0 failed requests)" in out
