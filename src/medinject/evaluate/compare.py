"""Paired comparison of two evaluation runs on the items they share.

Items pair on (source, id, task, mode) in the original option order. Per scope (as in summary.json) the
result is the mean per-item difference B - A with its 95% paired-bootstrap interval and a two-sided p-value
from a paired bootstrap or a sign-flip permutation test. Corpus metrics (BLEU, chrF) compare their
sentence-level values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bootstrap import N_BOOT, paired_bootstrap, paired_permutation, rng_for
from ..errors import MedinjectError
from .metrics import CATALOG, CHOICE_ITEM_METRICS, OPEN_ITEM_METRICS
from .summary import ORIGINAL, _scope_order, _scopes, read_predictions, score_rows

TESTS = ("bootstrap", "permutation")


def predictions_path(run: str | Path) -> Path:
    p = Path(run)
    return p / "predictions.jsonl" if p.is_dir() else p


def _scored(run: str | Path, metric: str) -> dict[tuple, dict]:
    open_metric = metric in OPEN_ITEM_METRICS
    rows = [r for r in read_predictions(predictions_path(run))
            if r["variant"] == ORIGINAL and (r["task"] == "oeq") == open_metric]
    missing = [r for r in rows if r["task"] == "oeq" and metric not in (r.get("stored_scores") or {})]
    if missing and metric == "bertscore_f1":
        raise MedinjectError(f"{predictions_path(run)}: no stored bertscore_f1 per item; run `medinject score` "
                             "with --bertscore-model first, or compare another metric")
    score_rows(rows)
    for r in rows:
        if r["task"] == "oeq" and metric in (r.get("stored_scores") or {}):
            r["scores"][metric] = float(r["stored_scores"][metric])
    return {(r["source"], r["id"], r["task"], r["mode"]): r for r in rows}


def compare_runs(a: str | Path, b: str | Path, *, metric: str = "em", test: str = "bootstrap", seed: int = 0,
                 n_boot: int = N_BOOT) -> dict:
    """Differences B - A per scope for `metric` (em, hamming, or an open-ended per-item metric)."""
    known = CHOICE_ITEM_METRICS + OPEN_ITEM_METRICS
    if metric not in known:
        raise MedinjectError(f"unknown metric {metric!r}; choose from {', '.join(known)}")
    if test not in TESTS:
        raise MedinjectError(f"unknown test {test!r}; choose bootstrap or permutation")
    rows_a, rows_b = _scored(a, metric), _scored(b, metric)
    shared = [k for k in rows_a if k in rows_b]
    if not shared:
        raise MedinjectError(f"{a} and {b} share no items scored by {metric}")
    pairs = [{**rows_a[k], "pair": (rows_a[k]["scores"][metric], rows_b[k]["scores"][metric])} for k in shared]
    results = []
    for scope, group in sorted(_scopes(pairs).items(), key=lambda kv: _scope_order(kv[0])):
        va = np.array([r["pair"][0] for r in group])
        vb = np.array([r["pair"][1] for r in group])
        rng = rng_for(seed, *scope, metric, "compare")
        res = paired_bootstrap(va, vb, rng, n_boot) if test == "bootstrap" else paired_permutation(va, vb, rng,
                                                                                                    n_boot=n_boot)
        results.append({"source": scope[0], "task": scope[1], "mode": scope[2], "metric": metric, "n": res["n"],
                        "a": round(float(va.mean()), 6), "b": round(float(vb.mean()), 6),
                        "diff": round(res["diff"], 6), "ci": [round(c, 6) for c in res["ci"]],
                        "p_value": round(res["p_value"], 6)})
    return {"a": str(a), "b": str(b), "metric": metric, "definition": CATALOG[metric].definition, "test": test,
            "seed": seed, "n_boot": n_boot, "shared_items": len(shared),
            "only_a": len(rows_a) - len(set(rows_a) & set(rows_b)),
            "only_b": len(rows_b) - len(set(rows_a) & set(rows_b)), "results": results}


def compare_table(report: dict):
    from rich.table import Table

    t = Table(title=f"{report['metric']}: B - A ({report['test']} test, {report['shared_items']} shared items)")
    for col in ("source", "task", "mode", "n", "A", "B", "B - A", "95% CI", "p"):
        t.add_column(col, justify="left" if col in ("source", "task", "mode") else "right")
    for r in report["results"]:
        t.add_row(r["source"], r["task"], r["mode"], str(r["n"]), f"{r['a']:.4f}", f"{r['b']:.4f}",
                  f"{r['diff']:+.4f}", f"[{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]", f"{r['p_value']:.4g}")
    return t
