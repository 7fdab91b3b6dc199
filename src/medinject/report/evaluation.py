"""The evaluation tables: the paper's main table with paired significance tests, answer-order bias, open-ended.

Values and intervals are copied from each evaluation's `summary.json`; the only numbers computed here are the
paired comparisons (against the base model and against NAT), which need two evaluations at once: a paired
sign-flip permutation test on the per-item Exact Match of the items both evaluations share, from
`predictions.jsonl`, with the shared bootstrap module (`medinject.bootstrap`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..schemas import check
from .data import read_json
from .render import Table

CHOICE = ("mcqu", "mcq")
AGG = "mcq+mcqu"
OPEN_METRICS = ("bleu", "chrf", "rouge2", "meteor", "bertscore_f1")


class Evaluation:
    """One configuration's evaluation folder: summary.json entries and per-item constrained EM."""

    def __init__(self, name: str, folder: Path):
        self.name, self.folder = name, Path(folder)
        s = read_json(self.folder / "summary.json", "eval.summary")
        if "results" not in s:
            raise InputError(self.folder / "summary.json", "not an evaluation summary", field="results")
        self.summary = s
        self.results: list[dict] = s["results"]
        self._items: dict[tuple, float] | None = None

    def get(self, source: str, task: str, metric: str, mode: str | None = "constrained") -> dict | None:
        for e in self.results:
            if (e["source"], e["task"], e["metric"]) == (source, task, metric) and mode in (None, e["mode"]):
                return e
        return None

    def scopes(self, task_filter=CHOICE + (AGG,)) -> list[tuple[str, str]]:
        """(benchmark, task) pairs, without "all" where a single benchmark holds every item of that task."""
        seen: list[tuple[str, str]] = []
        for e in self.results:
            key = (e["source"], e["task"])
            if e["mode"] == "constrained" and e["task"] in task_filter and key not in seen:
                seen.append(key)
        sources = {task: [s for s, t in seen if t == task and s != "all"] for _, task in seen}
        return [(s, t) for s, t in seen if not (s == "all" and len(sources[t]) == 1 and self._same(sources[t][0], t))]

    def _same(self, source: str, task: str) -> bool:
        one, every = self.get(source, task, "em"), self.get("all", task, "em")
        return one is not None and every is not None and one.get("n") == every.get("n")

    def item_em(self) -> dict[tuple, float]:
        """(source, task, id) -> constrained Exact Match in the original option order."""
        if self._items is None:
            self._items = {}
            path = self.folder / "predictions.jsonl"
            checked = False
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    r = json.loads(line)
                    if not checked:  # the first line tells the file's schema
                        check(r, "eval.prediction", path, line=lineno)
                        checked = True
                    if r.get("task") in CHOICE and r.get("mode") == "constrained" \
                            and r.get("variant", "original") == "original":
                        self._items[(r.get("source"), r["task"], str(r["id"]))] = float(r["scores"]["em"])
        return self._items


def _ci(e: dict | None, i: int):
    return (e or {}).get("ci", [None, None])[i] if (e or {}).get("ci") else None


def compare(a: Evaluation, b: Evaluation, source: str, task: str, *, seed: int, n_boot: int) -> dict | None:
    """Paired test of b against a on the items they share in (source, task): diff = EM(b) - EM(a)."""
    from ..bootstrap import paired_permutation, rng_for

    ia, ib = a.item_em(), b.item_em()

    def keep(k):
        return (source == "all" or k[0] == source) and (k[1] == task or (task == AGG and k[1] in CHOICE))

    shared = sorted(k for k in ia.keys() & ib.keys() if keep(k))
    if not shared:
        return None
    res = paired_permutation([ia[k] for k in shared], [ib[k] for k in shared],
                             rng_for(seed, "report", a.name, b.name, source, task), n_boot=n_boot)
    return res


def _sig(res: dict | None, prefix: str) -> dict[str, Any]:
    if res is None:
        return {f"Δ vs {prefix}": None, f"p vs {prefix}": None}
    return {f"Δ vs {prefix}": res["diff"], f"p vs {prefix}": res["p_value"]}


def main_tables(evals: list[Evaluation], *, baseline: str, reference: str, seed: int, n_boot: int,
                alpha: float = 0.05) -> tuple[Table, Table]:
    """Per configuration and benchmark (constrained EM, Hamming) and the aggregated EM with significance."""
    by = {e.name: e for e in evals}
    base, ref = by.get(baseline), by.get(reference)
    rows = []
    for ev in evals:
        for source, task in ev.scopes():
            em, ham = ev.get(source, task, "em"), ev.get(source, task, "hamming")
            row = {"configuration": ev.name, "benchmark": source, "task": task, "n": (em or {}).get("n"),
                   "EM": (em or {}).get("value"), "EM CI low": _ci(em, 0), "EM CI high": _ci(em, 1),
                   "Hamming": (ham or {}).get("value"), "Hamming CI low": _ci(ham, 0), "Hamming CI high": _ci(ham, 1)}
            for other, label in ((base, baseline), (ref, reference)):
                row |= _sig(compare(other, ev, source, task, seed=seed, n_boot=n_boot)
                            if other is not None and other is not ev else None, label)
            rows.append(row)
    cols = ["configuration", "benchmark", "task", "n", "EM", "EM CI low", "EM CI high", "Hamming", "Hamming CI low",
            "Hamming CI high", f"Δ vs {baseline}", f"p vs {baseline}", f"Δ vs {reference}", f"p vs {reference}"]
    per_bench = Table("main_table", cols, rows, note="Constrained decoding, original option order. Δ: EM difference "
                      "(this configuration minus the other) on shared items; p: paired sign-flip permutation test.")
    agg_rows = []
    for ev in evals:
        h = ev.summary.get("headline") or ev.get("all", AGG, "em")
        if h is None:
            continue
        macro = ev.summary.get("headline_macro") or ev.get("all", AGG, "em_macro") or {}
        row = {"configuration": ev.name, "n": h.get("n"), "EM": h.get("value"), "EM CI low": _ci(h, 0),
               "EM CI high": _ci(h, 1), "EM macro": macro.get("value"), "EM macro CI low": _ci(macro, 0),
               "EM macro CI high": _ci(macro, 1),
               "test sets": len(macro.get("sets") or {}) or None}
        marks = []
        for other, label in ((base, baseline), (ref, reference)):
            res = compare(other, ev, "all", AGG, seed=seed, n_boot=n_boot) if other is not None and other is not ev \
                else None
            row |= _sig(res, label)
            if res is not None and res["p_value"] is not None and res["p_value"] < alpha:
                marks.append(f"{'+' if res['diff'] > 0 else '-'} vs {label}")
        row["significant (p<0.05)"] = ", ".join(marks) or ""
        agg_rows.append(row)
    agg = Table("aggregate_em", ["configuration", "n", "EM", "EM CI low", "EM CI high", "EM macro",
                                 "EM macro CI low", "EM macro CI high", "test sets",
                                 f"Δ vs {baseline}",
                                 f"p vs {baseline}", f"Δ vs {reference}", f"p vs {reference}", "significant (p<0.05)"],
                agg_rows, note="The paper's headline: constrained Exact Match pooled over every MCQ and MCQU item "
                               "(micro), 95% bootstrap interval (from each summary.json); EM macro: the mean of each "
                               "test set's EM (every set weighs the same). Δ and p compare the pooled EM.")
    return per_bench, agg


def wide_table(per_bench: Table, *, baseline: str, reference: str, alpha: float = 0.05) -> Table:
    """The paper's layout: one row per configuration, EM and Hamming per benchmark and task side by side.

    A mark follows an EM that differs significantly (p < 0.05): * from the base model, † from NAT."""
    cols, rows = ["configuration"], {}
    for r in per_bench.rows:
        scope = r["task"] if r["benchmark"] == "all" else f"{r['benchmark']} {r['task']}"
        for col in (f"{scope} EM", f"{scope} EM CI low", f"{scope} EM CI high", f"{scope} significant",
                    f"{scope} Hamming", f"{scope} Hamming CI low", f"{scope} Hamming CI high"):
            if col not in cols:
                cols.append(col)
        marks = "".join(m for m, key in (("*", f"p vs {baseline}"), ("†", f"p vs {reference}"))
                        if r.get(key) is not None and r[key] < alpha)
        row = rows.setdefault(r["configuration"], {"configuration": r["configuration"]})
        row[f"{scope} EM"] = r["EM"]
        row[f"{scope} significant"] = marks
        row[f"{scope} Hamming"] = r["Hamming"]
        for metric in ("EM", "Hamming"):
            row[f"{scope} {metric} CI low"] = r[f"{metric} CI low"]
            row[f"{scope} {metric} CI high"] = r[f"{metric} CI high"]
    return Table("main_table_wide", cols, list(rows.values()),
                 note=f"Constrained EM and Hamming per benchmark with 95% bootstrap intervals; significant: EM "
                      f"differs at p < {alpha} from {baseline} (*) or from {reference} (†) (paired permutation test). "
                      "p-values: main_table.csv.")


def bias_table(evals: list[Evaluation]) -> Table:
    rows = []
    for ev in evals:
        orig = ev.get("all", AGG, "em")
        if orig is None:
            continue
        row = {"configuration": ev.name}
        for metric, col in BIAS_METRICS:
            e = orig if metric == "em" else ev.get("all", AGG, metric)
            row[col] = None if e is None else e.get("value")
            if metric != "perm_em_std":  # a spread over the K orderings, not an estimate with an interval
                row[f"{col} CI low"], row[f"{col} CI high"] = _ci(e, 0), _ci(e, 1)
        rows.append(row)
    cols = ["configuration"] + [c for m, col in BIAS_METRICS
                                for c in ((col,) if m == "perm_em_std" else (col, f"{col} CI low", f"{col} CI high"))]
    return Table("answer_order_bias", cols, rows, note="All MCQ and MCQU items, constrained decoding, 95% bootstrap "
                 "intervals. Permuted: mean EM over K seeded orderings of the options; CircularEval: right under every "
                 "cyclic rotation; selection bias: spread of per-letter recall.")


BIAS_METRICS = (("em", "EM original"), ("perm_em_mean", "EM permuted"), ("perm_em_drop", "drop"),
                ("perm_em_std", "std over K"), ("circular_em", "CircularEval EM"), ("selection_bias", "selection bias"))


def open_table(evals: list[Evaluation]) -> Table:
    """Reference-based metrics of the open-ended answers, each with its 95% interval (the judge has its table)."""
    rows = []
    for ev in evals:
        entries = {e["metric"]: e for e in ev.results if e["source"] == "all" and e["task"] == "oeq"}
        if not entries:
            continue
        row: dict[str, Any] = {"configuration": ev.name, "n": next(iter(entries.values()), {}).get("n")}
        for m in OPEN_METRICS:
            e = entries.get(m)
            row |= {m: (e or {}).get("value"), f"{m} CI low": _ci(e, 0), f"{m} CI high": _ci(e, 1)}
        rows.append(row)
    cols = ["configuration", "n", *[c for m in OPEN_METRICS for c in (m, f"{m} CI low", f"{m} CI high")]]
    return Table("open_ended", cols, rows, note="Open-ended answers, greedy decoding, 95% bootstrap intervals: BLEU "
                 "and chrF 0-100, the others 0-1. The judge's verdicts are in the next table.")
