"""`medinject run` end to end on the toy model: killed mid-training, resumed; an evaluation setting reruns
only evaluation and report; the report's numbers equal the stage outputs."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medinject.io import load_records, write_records
from medinject.toymodel import build_toy_model

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "medinject" / "data" / "sample"

EXPERIMENT = """\
name: e2e
sources:
  - {{name: native, path: "package:sample/native.jsonl", format: records}}
  - {{name: translated, path: "package:sample/translated.jsonl", format: records}}
  - {{name: synthetic, path: "package:sample/synthetic.jsonl", format: records}}
  - {{name: test, path: test.jsonl, format: records}}
backends:
  judge: {{kind: transformers, model: {model}, options: {{batch_size: 8}}}}
curate:
  options: {{workers: 1, progress: false}}
mix: {{size: 12, configs: [NAT], shrink: true}}
train:
  model: {model}
  recipe: {recipe}
  overrides: {{max_steps: 4, per_device_train_batch_size: 2, global_batch_size: 2, max_length: 256,
              bf16: false, save_steps: 1, save_total_limit: 10, logging_steps: 1}}
evaluate:
  sets: [test]
  permute: 1
  batch_size: 16
  oeq: {{max_new_tokens: 6, bertscore_model: null}}
  options: {{progress: false, n_boot: 100}}
judge:
  backend: judge
  options: {{max_tokens: 4, progress: false, pairwise: none}}
report: {{n_boot: 200}}
"""


def _done(workdir: Path) -> dict[str, dict]:
    """node -> its completion marker, for every finished node folder."""
    out = {}
    for marker in workdir.rglob("done.json"):
        m = json.loads(marker.read_text())
        out[m["node"]] = m
    return out


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    model = build_toy_model(root / "toy", size="tiny")
    recs = load_records(SAMPLE / "eval.jsonl")
    picked = [r for r in recs if r.task.value == "mcqu"][:4] + [r for r in recs if r.task.value == "mcq"][:4] + \
        [r for r in recs if r.task.value == "oeq"][:3]
    write_records(root / "test.jsonl", picked)
    recipe = Path(__file__).resolve().parents[2] / "configs" / "train" / "paper.yaml"
    (root / "exp.yaml").write_text(EXPERIMENT.format(model=model, recipe=recipe))
    return root


def test_kill_mid_training_then_resume_then_change_evaluation(experiment, run_cli):
    from medinject.experiment.run import run_experiment

    exp, workdir = experiment / "exp.yaml", experiment / "runs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "medinject.cli", "run", str(exp), "--workdir", str(workdir)],
                            cwd=experiment, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        # checkpoint-2 appearing means checkpoint-1 was written in full: kill while training goes on.
        while not list(workdir.glob("train/NAT/*/adapter/checkpoint-2")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "training never reached its second checkpoint"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = _done(workdir)
    assert set(before) == {"ingest/native", "ingest/translated", "ingest/synthetic", "ingest/test", "curate", "mix"}

    log: list[str] = []
    steps = run_experiment(exp, workdir=workdir, log=log.append)
    ran = [line.split()[1] for line in log if line.split()[:1] in (["run"], ["resume"])]
    assert ran == ["train/NAT", "evaluate/base", "evaluate/NAT", "judge", "report"]
    assert any(line.split()[:2] == ["resume", "train/NAT"] for line in log)
    after = _done(workdir)
    for node, marker in before.items():  # finished stages were not redone
        assert after[node]["finished"] == marker["finished"] and after[node]["key"] == marker["key"]
    assert after["train/NAT"]["info"]["resumed"] is True
    nat = next(s for s in steps if s.node.name == "train/NAT").dir / "adapter"
    manifest = json.loads((nat / "manifest.json").read_text())
    assert int(manifest["resumed_from"].rsplit("-", 1)[1]) >= 1  # continued from a checkpoint, not from scratch
    assert manifest["results"]["global_step"] == 4

    # Only an evaluation setting changes: evaluation and report rerun, the judge's inputs are unchanged.
    log.clear()
    steps = run_experiment(exp, ["evaluate.permute=2"], workdir=workdir, log=log.append)
    ran = [line.split()[1] for line in log if line.split()[:1] in (["run"], ["resume"])]
    assert ran == ["evaluate/base", "evaluate/NAT", "report"]
    final = _done(workdir)
    for node in ("train/NAT", "mix", "curate", "judge"):
        assert final[node]["finished"] == after[node]["finished"]

    # The report says what the stage outputs say, read here on their own.
    by = {s.node.name: s.dir for s in steps}
    report = by["report"]
    for name in ("report.html", "report.md", "aggregate_em.csv", "main_table.csv", "em_by_configuration.png"):
        assert (report / name).exists(), name
    agg = {r["configuration"]: r for r in csv.DictReader(open(report / "aggregate_em.csv"))}
    bias = {r["configuration"]: r for r in csv.DictReader(open(report / "answer_order_bias.csv"))}
    for config in ("base", "NAT"):
        summary = json.loads((by[f"evaluate/{config}"] / "summary.json").read_text())
        assert summary["settings"]["permute"] == 2
        head = summary["headline"]
        assert float(agg[config]["EM"]) == head["value"] and int(agg[config]["n"]) == head["n"]
        perm = next(e for e in summary["results"] if (e["source"], e["task"], e["metric"]) ==
                    ("all", "mcq+mcqu", "perm_em_mean"))
        assert float(bias[config]["EM permuted"]) == perm["value"]
    judged = json.loads((by["judge"] / "summary.json").read_text())
    judge_rows = {r["configuration"]: r for r in csv.DictReader(open(report / "judge.csv"))}
    for config in ("base", "NAT"):
        verdict = judged["systems"][config]["binary"]
        assert verdict["n_items"] == 3  # every open-ended item judged (a toy judge's verdicts are unparseable)
        cell = judge_rows[config]["judge binary"]
        assert (float(cell) if cell else None) == verdict["mean"]["value"]
        assert sum(int(judge_rows[config][f"binary {k}"]) for k in ("parsed", "unparseable", "failed")) == 3
    assert "toy model" in (report / "report.html").read_text()

    # `medinject report WORKDIR` finds the same folders through results.json and writes the same table.
    code, out, err = run_cli("report", workdir, "-o", experiment / "again")
    assert code == 0, err
    again = list(csv.DictReader(open(experiment / "again" / "aggregate_em.csv")))
    assert [(r["configuration"], r["EM"], r["EM CI low"], r["EM CI high"]) for r in again] == \
        [(c, agg[c]["EM"], agg[c]["EM CI low"], agg[c]["EM CI high"]) for c in ("base", "NAT")]
