"""`medinject demo` runs on the sample data shipped in the package and says what it did."""

import json

import pytest

from medinject.demo import STEPS, sample_dir
from medinject.io import load_records

pytestmark = pytest.mark.e2e


def test_demo_runs_every_step_on_the_shipped_samples(tmp_path, run_cli):
    work = tmp_path / "demo"
    code, stdout, stderr = run_cli("demo", "--workdir", work)
    assert code == 0, stderr
    for i, step in enumerate(STEPS, start=1):
        assert f"[{i}] {step.__name__}:" in stdout
    samples = [f for f in sorted(sample_dir().glob("*.jsonl")) if f.name != "passages.jsonl"]
    records = [r for f in samples for r in load_records(f)]
    assert len(samples) >= 4 and len(records) >= 100
    stats = json.loads((work / "stats" / "records.json").read_text())
    assert stats["n"] == len(records) and set(stats["counts"]["origin"]) == {"native", "translated", "synthetic"}
    assert set(stats["counts"]["task"]) == {"mcqu", "mcq", "oeq"}
    assert json.loads((work / "stats" / "passages.json").read_text())["n"] >= 5
    assert (work / "toy-model" / "config.json").is_file()
    back = tmp_path / "back.jsonl"
    assert run_cli("ingest", work / "export" / "medinjection.jsonl", "--format", "medinjection", "-o", back)[0] == 0
    assert load_records(back) == records
    assert len(json.loads((work / "export" / "reference-eval.json").read_text())) == len(records)
