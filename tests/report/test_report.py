"""The report's numbers equal the stage outputs, read here independently; its files are offline and complete."""

from __future__ import annotations

import csv
import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest

from medinject.evaluate.summary import score_rows, summarize
from medinject.report import build_report, load_index

CONFIGS = {"base": 0.35, "NAT": 0.8, "ALL": 0.55}  # chance of a right answer per configuration


def _rows(skill: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(24):
        task = "mcqu" if i % 2 else "mcq"
        source = "bench-a" if i < 12 else "bench-b"
        gold = ["B"] if task == "mcqu" else ["A", "C"]
        for variant in ["original", "perm-1", "perm-2", "rot-1", "rot-2", "rot-3", "rot-4"]:
            right = rng.random() < (skill if variant == "original" else skill * 0.7)
            pred = gold if right else (["D"] if rng.random() < 0.8 else None)
            rows.append({"id": f"q{i}", "task": task, "source": source, "mode": "constrained", "variant": variant,
                         "gold": gold, "pred": pred})
    for i in range(6):
        rows.append({"id": f"o{i}", "task": "oeq", "source": "bench-a", "mode": "greedy", "variant": "original",
                     "reference": "le traitement repose sur l'amoxicilline pendant sept jours",
                     "prediction": "amoxicilline pendant sept jours" if rng.random() < skill else "repos"})
    return rows


@pytest.fixture(scope="module")
def stage_outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stages")
    evals = {}
    for k, (name, skill) in enumerate(CONFIGS.items()):
        d = root / "evaluate" / name
        d.mkdir(parents=True)
        rows = score_rows(_rows(skill, k))
        s = summarize(rows, seed=0, n_boot=200)
        (d / "summary.json").write_text(json.dumps({"schema": "medinject.eval.summary/1",
                                                    "settings": {"model": "some/model"}, **s}))
        with open(d / "predictions.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        evals[name] = str(d)
    judge = root / "judge"
    judge.mkdir()
    (judge / "summary.json").write_text(json.dumps({"systems": {
        c: {"binary": {"mean": {"value": v, "ci": [v - 0.1, v + 0.1], "n": 6}, "length_controlled": {"value": v}}}
        for c, v in (("base", 0.25), ("NAT", 0.75), ("ALL", 0.5))}}))
    agreement = root / "agreement"
    agreement.mkdir()
    (agreement / "agreement.json").write_text(json.dumps({
        "scores": [{"score": "judge-binary", "n": 18, "pearson": {"value": 0.61, "ci": [0.3, 0.8]},
                    "spearman": {"value": 0.58, "ci": [0.2, 0.8]}, "kendall": {"value": 0.44, "ci": [0.1, 0.7]}}],
        "inter_annotator": {"annotators": ["a", "b"], "units_rated_twice": 9,
                            "krippendorff_alpha": {"value": 0.7, "ci": [0.5, 0.9]}}, "plots": []}))
    mix = root / "mix"
    for c in ("NAT", "ALL"):
        (mix / c).mkdir(parents=True)
        (mix / c / "manifest.json").write_text(json.dumps({"size": 18, "counts": {
            "origin": {"native": 18} if c == "NAT" else {"native": 6, "translated": 6, "synthetic": 6},
            "task": {"mcqu": 6, "mcq": 6, "oeq": 6}, "source": {"s": 18}}}))
    curate = root / "curate"
    curate.mkdir()
    (curate / "report.json").write_text(json.dumps({
        "counts": {"input": 113, "kept": 108, "rejected": 5}, "by_reason": {"near_duplicate": 4, "contaminated": 1},
        "by_origin": {"native": {"input": 37, "kept": 36, "rejected": {"contaminated": 1}},
                      "translated": {"input": 39, "kept": 36, "rejected": {"near_duplicate": 3}},
                      "synthetic": {"input": 37, "kept": 36, "rejected": {"near_duplicate": 1}}},
        "decontamination": {"by_eval_file": {"/x/eval.jsonl": 1}}}))
    index = {"evaluations": evals, "judge": str(judge), "agreement": str(agreement), "mix": str(mix),
             "curate": str(curate)}
    out = root / "report"
    written = build_report(index, out, n_boot=2000)
    return index, out, written


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(x: str):
    return None if x == "" else float(x)


def test_main_table_equals_each_summary(stage_outputs):
    index, out, _ = stage_outputs
    rows = _csv(out / "main_table.csv")
    assert {r["configuration"] for r in rows} == set(CONFIGS)
    for r in rows:
        summary = json.loads((Path(index["evaluations"][r["configuration"]]) / "summary.json").read_text())
        for metric, col in (("em", "EM"), ("hamming", "Hamming")):
            entry = next(e for e in summary["results"] if (e["source"], e["task"], e["mode"], e["metric"])
                         == (r["benchmark"], r["task"], "constrained", metric))
            assert _num(r[col]) == pytest.approx(entry["value"], abs=0)
            assert [_num(r[f"{col} CI low"]), _num(r[f"{col} CI high"])] == pytest.approx(entry["ci"], abs=0)
            assert int(r["n"]) == entry["n"]
    agg = {r["configuration"]: r for r in _csv(out / "aggregate_em.csv")}
    for name, d in index["evaluations"].items():
        head = json.loads((Path(d) / "summary.json").read_text())["headline"]
        assert _num(agg[name]["EM"]) == head["value"] and _num(agg[name]["EM CI low"]) == head["ci"][0]
    assert agg["base"]["p vs base"] == "" and agg["NAT"]["p vs NAT"] == ""
    wide = {r["configuration"]: r for r in _csv(out / "main_table_wide.csv")}
    for name in CONFIGS:
        assert float(wide[name]["mcq+mcqu EM"]) == pytest.approx(_num(agg[name]["EM"]), abs=5e-5)
        cell = wide[name]["mcq+mcqu significant"]
        assert ("*" in cell) == (agg[name]["p vs base"] != "" and float(agg[name]["p vs base"]) < 0.05)
        assert ("†" in cell) == (agg[name]["p vs NAT"] != "" and float(agg[name]["p vs NAT"]) < 0.05)


def _exact_sign_flip_p(d: np.ndarray) -> float:
    observed = abs(d.mean())
    hits = sum(abs((np.array(s) * d).mean()) >= observed - 1e-12 for s in itertools.product([-1, 1], repeat=len(d)))
    return hits / 2 ** len(d)


def test_significance_matches_an_exact_paired_test(stage_outputs):
    index, out, _ = stage_outputs

    def item_em(name):
        em = {}
        for line in (Path(index["evaluations"][name]) / "predictions.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r["task"] != "oeq" and r["variant"] == "original" and r["source"] == "bench-a":
                em[r["id"]] = float(r["gold"] == r["pred"])
        return em

    base, nat = item_em("base"), item_em("NAT")
    d = np.array([nat[k] - base[k] for k in sorted(base)])
    row = next(r for r in _csv(out / "main_table.csv")
               if (r["configuration"], r["benchmark"], r["task"]) == ("NAT", "bench-a", "mcq+mcqu"))
    assert _num(row["Δ vs base"]) == pytest.approx(d.mean())
    assert _num(row["p vs base"]) == pytest.approx(_exact_sign_flip_p(d), abs=0.02)


def test_bias_open_judge_agreement_composition_curation_copied(stage_outputs):
    index, out, _ = stage_outputs
    bias = {r["configuration"]: r for r in _csv(out / "answer_order_bias.csv")}
    for name, d in index["evaluations"].items():
        res = {e["metric"]: e for e in json.loads((Path(d) / "summary.json").read_text())["results"]
               if (e["source"], e["task"]) == ("all", "mcq+mcqu")}
        assert _num(bias[name]["EM permuted"]) == res["perm_em_mean"]["value"]
        assert _num(bias[name]["drop"]) == res["perm_em_drop"]["value"]
        assert _num(bias[name]["CircularEval EM"]) == res["circular_em"]["value"]
        assert _num(bias[name]["selection bias"]) == res["selection_bias"]["value"]
        oeq = {e["metric"]: e["value"] for e in json.loads((Path(d) / "summary.json").read_text())["results"]
               if (e["source"], e["task"]) == ("all", "oeq")}
        open_row = next(r for r in _csv(out / "open_ended.csv") if r["configuration"] == name)
        for m in ("bleu", "chrf", "rouge2", "meteor"):
            assert _num(open_row[m]) == oeq[m]
    judge = {r["configuration"]: r for r in _csv(out / "judge.csv")}
    assert _num(judge["NAT"]["judge binary"]) == 0.75 and _num(judge["NAT"]["binary 95% CI high"]) == 0.85
    ag = _csv(out / "agreement.csv")[0]
    assert (ag["score"], _num(ag["pearson"]), _num(ag["kendall CI low"])) == ("judge-binary", 0.61, 0.1)
    assert _num(_csv(out / "inter_annotator.csv")[0]["value"]) == 0.7
    origin = {r["mix"]: r for r in _csv(out / "composition_origin.csv")}
    assert origin["ALL"]["translated"] == "6" and origin["NAT"]["native"] == "18"
    losses = {r["origin"]: r for r in _csv(out / "curation_losses.csv")}
    assert losses["translated"]["near_duplicate"] == "3" and losses["total"]["kept"] == "108"
    assert _csv(out / "decontamination.csv") == [{"evaluation file": "eval.jsonl", "training records removed": "1"}]


def test_html_is_offline_and_embeds_the_plots(stage_outputs):
    _, out, written = stage_outputs
    html = (out / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<link" not in html and "<script" not in html
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["em_by_configuration.png", "judge_binary.png", "permutation_drop.png"]
    assert html.count("data:image/png;base64,") == len(pngs)
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "![em_by_configuration](em_by_configuration.png)" in md and "| NAT |" in md
    assert "toy model" not in html  # a real model name: no toy warning


def test_cli_report_from_a_folder_of_evaluations(stage_outputs, run_cli, tmp_path):
    index, _, _ = stage_outputs
    folder = Path(index["evaluations"]["base"]).parent
    assert set(load_index(folder)["evaluations"]) == set(CONFIGS)
    code, out, err = run_cli("report", folder, "-o", tmp_path / "r")
    assert code == 0, err
    assert (tmp_path / "r" / "report.html").exists() and "2 plots" in out  # no judge here
    code, _, err = run_cli("report", tmp_path / "empty-nothing", "-o", tmp_path / "r2")
    assert code == 2 and "no results here" in err


def test_translation_and_synthesis_losses_are_counted_by_reason(stage_outputs, tmp_path):
    index, _, _ = stage_outputs
    jobs = {}
    for name, accepted, by in (("translate/medqa-fr", 1, {"invalid_json": 14, "not_french": 1}),
                               ("synthesize/e3c", 3, {"invalid_json": 5})):
        d = tmp_path / name
        d.mkdir(parents=True)
        (d / "records.summary.json").write_text(json.dumps({
            "items": accepted + sum(by.values()), "accepted": accepted, "records": accepted,
            "rejected": sum(by.values()), "rejected_by_reason": by}))
        jobs[name] = str(d)
    build_report({**index, "generated": jobs}, tmp_path / "report", n_boot=200)
    rows = {r["job"]: r for r in _csv(tmp_path / "report" / "generation_losses.csv")}
    assert rows["translate/medqa-fr"]["rejected"] == "15" and rows["translate/medqa-fr"]["invalid_json"] == "14"
    assert rows["synthesize/e3c"]["not_french"] == "0" and rows["synthesize/e3c"]["accepted"] == "3"
    assert "Translation and synthesis losses" in (tmp_path / "report" / "report.md").read_text()


def _judge_dir(tmp_path, means):
    from medinject.schemas import stamp

    systems = {s: {m: {"mean": {"value": v, "ci": ci, "n": 10}, "excluded": {"unparseable": 0, "failed": 0}}
                   for m, (v, ci) in modes.items()} for s, modes in means.items()}
    (tmp_path / "summary.json").write_text(json.dumps(stamp("judge.summary", {"systems": systems})))
    return tmp_path


def test_the_judge_table_says_when_every_verdict_was_the_same(tmp_path):
    from medinject.report.data import judge_table

    constant = _judge_dir(tmp_path, {"base": {"binary": (0.0, [0.0, 0.0]), "graded": (10.0, [10.0, 10.0])},
                                     "NAT": {"binary": (0.0, [0.0, 0.0]), "graded": (7.0, [6.0, 8.0])}})
    note = judge_table(constant, ["base", "NAT"]).note
    assert "Every parsed binary verdict was 0, for every configuration" in note and "graded verdict" not in note
    # The same single value per system but different across systems still tells configurations apart.
    apart = _judge_dir(tmp_path, {"base": {"binary": (0.0, [0.0, 0.0])}, "NAT": {"binary": (1.0, [1.0, 1.0])}})
    assert "Every parsed" not in judge_table(apart, ["base", "NAT"]).note
