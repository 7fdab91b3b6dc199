"""`medinject demo`: the demo experiment end to end through the runner (cut down to one mix to stay quick).

It runs on the real model (SmolLM2-135M-Instruct): slow, like the other real-model tests."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from medinject.demo import demo_experiment
from medinject.experiment.config import load_experiment

pytestmark = pytest.mark.e2e

QUICK = ["mix.configs=[NAT]", "translate.0.limit=1", "translate.0.options.max_tokens=16", "synthesize.0.limit=1",
         "synthesize.0.options.kinds=[mcq]", "synthesize.0.options.max_tokens=16", "judge.limit=2",
         "judge.modes=[binary]", "evaluate.circular=false"]


def test_the_full_demo_experiment_is_valid_and_covers_every_stage():
    exp = load_experiment(demo_experiment())
    assert exp.mix.configs == ["NAT", "TRAD", "SYN", "NAT-TRAD", "NAT-SYN", "TRAD-SYN", "ALL"]
    assert exp.translate and exp.synthesize and exp.judge and exp.judge.experts
    # Translation and synthesis go through a local server; the judge runs in-process, held to its scale.
    assert exp.backends["local"].serve and exp.backends[exp.judge.backend].kind == "transformers"
    assert exp.judge.options["verdict"] == "constrained"
    assert Path(__file__).resolve().parents[2].joinpath("configs", "demo.yaml").resolve() == demo_experiment()


def test_demo_runs_every_stage_and_ends_with_the_report(tmp_path, run_cli):
    work = tmp_path / "demo"
    code, out, err = run_cli("demo", "--workdir", work, *QUICK)
    assert code == 0, err[-3000:]
    ran = re.findall(r"^  run +(\S+)", out, flags=re.M)
    assert ran == ["ingest/native", "ingest/translated", "ingest/synthetic", "ingest/english", "ingest/passages",
                   "ingest/test", "translate/english-fr", "synthesize/cases", "curate", "mix", "train/NAT",
                   "evaluate/base", "evaluate/NAT", "judge", "agreement", "report"]
    assert "starting transformers serve" in out and "stopped the server" in out
    html = Path(re.search(r"^Report: (.+report\.html)$", out, flags=re.M).group(1))
    assert html.is_file() and html.is_relative_to(work)
    assert "not the study's results" in out and "medinject run configs/cpu-study.yaml" in out
    assert "ran now: ingest (6), " in out and "from the cache: none." in out
    report = html.parent
    for name in ("report.md", "main_table.csv", "answer_order_bias.csv", "open_ended.csv", "judge.csv",
                 "agreement.csv", "composition_origin.csv", "curation_losses.csv", "em_by_configuration.png"):
        assert (report / name).is_file(), name
    assert "SmolLM2-135M-Instruct" in html.read_text() and "toy model" not in html.read_text()
    # A real model: the main table is not a column of zeros.
    em = [float(r["EM"]) for r in csv.DictReader(open(report / "main_table.csv", newline="")) if r.get("EM")]
    assert em and max(em) > 0

    latest = {p.parent.name: p.resolve() for p in work.glob("*/latest")} | \
        {f"{p.parent.parent.name}/{p.parent.name}": p.resolve() for p in work.glob("*/*/latest")}
    # Whatever the translations give, every item is accounted for, with a reason for each rejection.
    summary = json.loads((latest["translate/english-fr"] / "done.json").read_text())["info"]
    assert summary["items"] == summary["accepted"] + summary["rejected"] == 1
    assert sum(summary["rejected_by_reason"].values()) == summary["rejected"]
    # The planted contaminated item is gone from training.
    curated = json.loads((latest["curate"] / "report.json").read_text())
    assert curated["by_reason"].get("contaminated", 0) >= 1
    judged = json.loads((latest["judge"] / "summary.json").read_text())
    assert set(judged["systems"]) == {"base", "NAT"}
    assert judged["counts"]["verdicts"] == {"ok": 4, "unparseable": 0, "failed": 0}  # 2 items x 2 systems
    assert json.loads((latest["agreement"] / "agreement.json").read_text())["scores"]

    # Run again: everything is done already, so nothing runs and the same report is named.
    code, out2, err = run_cli("demo", "--workdir", work, *QUICK)
    assert code == 0, err[-2000:]
    assert not re.findall(r"^  (run|resume) ", out2, flags=re.M)
    assert f"Report: {html}" in out2
    assert "ran now: none; from the cache: ingest (6), translate, synthesize," in out2
