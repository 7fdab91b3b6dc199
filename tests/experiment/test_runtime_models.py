"""Model specs in experiment files: `real:<dtype>` writes the real model once into the work directory;
a source's `tasks` keeps only records of those tasks."""

from __future__ import annotations

import json
from pathlib import Path

from medinject import realmodel
from medinject.experiment.config import load_experiment
from medinject.experiment.runtime import Runtime

EXP = """\
name: t
sources:
  - {name: fr, path: fr.jsonl, format: records}
  - {name: test, path: test.jsonl, format: records, tasks: [oeq]}
mix: {size: 4}
train: {model: "real:bfloat16"}
evaluate: {sets: [test]}
"""


def test_real_spec_builds_once_per_work_directory(tmp_path, monkeypatch):
    calls = []

    def build(out, dtype="float32"):  # stands in for the 45-second conversion; the real one runs in tests/e2e
        calls.append(dtype)
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        return out

    monkeypatch.setattr(realmodel, "build_real_model", build)
    (tmp_path / "exp.yaml").write_text(EXP)
    exp = load_experiment(tmp_path / "exp.yaml")
    rt = Runtime(exp, tmp_path / "work", log=lambda _m: None)
    first, second = rt.model("real:bfloat16"), rt.model("real:bfloat16")
    assert first == second == str(tmp_path / "work" / "models" / "real-bfloat16")
    assert calls == ["bfloat16"]


def test_real_auto_is_built_under_the_dtype_it_resolved_to(tmp_path, monkeypatch):
    calls = []

    def build(out, dtype="float32"):
        calls.append(dtype)
        out.mkdir(parents=True)
        return out

    monkeypatch.setattr(realmodel, "build_real_model", build)
    monkeypatch.setattr(realmodel, "fast_dtype", lambda: "bfloat16")
    (tmp_path / "exp.yaml").write_text(EXP)
    rt = Runtime(load_experiment(tmp_path / "exp.yaml"), tmp_path / "work", log=lambda _m: None)
    assert rt.model("real:auto") == rt.model("real:bfloat16") == str(tmp_path / "work" / "models" / "real-bfloat16")
    assert calls == ["bfloat16"]


def test_a_build_stopped_before_its_marker_is_built_again(tmp_path, monkeypatch):
    def build(out, dtype="float32"):
        out.mkdir(parents=True)  # refuses a folder that exists, as the real builders do
        (out / "config.json").write_text("{}")
        return out

    monkeypatch.setattr(realmodel, "build_real_model", build)
    (tmp_path / "exp.yaml").write_text(EXP)
    (tmp_path / "work" / "models" / "real-float32").mkdir(parents=True)
    (tmp_path / "work" / "models" / "real-float32" / "half.bin").write_text("x")
    rt = Runtime(load_experiment(tmp_path / "exp.yaml"), tmp_path / "work", log=lambda _m: None)
    out = rt.model("real:float32")
    assert sorted(p.name for p in Path(out).iterdir()) == [".built", "config.json"]


def test_a_source_keeps_only_the_tasks_it_names(tmp_path):
    from medinject.experiment.run import run_experiment

    rows = [{"id": f"q{i}", "task": t, "question": "Quelle est la cause ?", "origin": "native", "source": "s",
             "lang": "fr", **({"answer": "Une réponse."} if t == "oeq" else
                              {"options": {"A": "un", "B": "deux"}, "answer": ["A"]})}
            for i, t in enumerate(["mcqu", "oeq", "oeq", "mcqu"])]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "fr.jsonl").write_text((tmp_path / "test.jsonl").read_text())
    (tmp_path / "exp.yaml").write_text(EXP)
    run_experiment(tmp_path / "exp.yaml", workdir=tmp_path / "work",
                   log=lambda _m: None, only=["ingest/test"])
    out = next((tmp_path / "work" / "ingest" / "test").glob("*/records.jsonl"))
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["q1", "q2"]
