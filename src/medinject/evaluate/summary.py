"""Prediction rows -> per-item scores -> the metrics of summary.json (shared by `eval` and `score`).

summary.json (schema "medinject.eval.summary/1")::

    {
      "schema": "medinject.eval.summary/1",
      "settings": {...},          # eval: model, adapter, mode ("fast"|"paper"), modes, seed, n_boot,
                                  # batch_size, max_new_tokens, permute, circular, bertscore_model, dtype,
                                  # data (path, sha256, records), prompt_version, versions (package -> version)
                                  # parse_rule (decoding mode -> "reference" | "tokens", see letters.RULES)
      "order_variants": {...},    # with --permute/--circular: options_kept_in_place, items_left_out (counts),
                                  # kept_ids, left_out_ids (options referring to others, evaluate.references)
      "headline": {...},          # the paper's number: EM of constrained decoding over all mcq+mcqu items,
                                  # pooled over items (micro; "pooling": "micro"), a copy of that entry of
                                  # "results", or null without multiple choice
      "headline_macro": {...},    # the same EM averaged over test sets (sources; "pooling": "macro"), a copy
                                  # of the em_macro entry, or null
      "results": [                # one entry per scope and metric, in a fixed order
        {"source": "frenchmedmcqa" | "all",       # data set (record `source`), or all of them
         "task": "mcqu" | "mcq" | "mcq+mcqu" | "oeq",
         "mode": "constrained" | "greedy" | ...,  # decoding mode of the predictions
         "metric": "em", "value": 0.4123, "ci": [0.37, 0.45],   # 95% bootstrap interval (null if undefined)
         "n": 622,                                 # items behind the value
         "definition": "...", "higher_is_better": true, "aggregation": "mean" | "corpus" | "derived",
         ...extras: "count" (invalid), "per_permutation" (perm_em_mean), "recall" (selection_bias),
                    "signature" (bleu, chrf), "model" and "layer" (bertscore_f1)}
      ]
    }

Values are fractions in [0, 1] except BLEU and chrF (0-100). Metrics: see `metrics.CATALOG`. Every `em` entry
of an "all" scope says "pooling": "micro" (over items) and is followed by its `em_macro` (mean over sources,
"pooling": "macro", with each source's value in "sets"). Scopes: each
(source, task, mode) present, each (all, task, mode), (all, mcq+mcqu, mode) whenever there are
multiple-choice items, and (source, mcq+mcqu, mode) when a source has both task types.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..bootstrap import N_BOOT, mean_ci, percentile_interval, resample_indices, rng_for, statistic_ci
from ..errors import InputError
from ..io import iter_jsonl
from ..schemas import schema_id
from ..textnorm import join_key
from .bias import letter_recall_counts
from .metrics import CATALOG, choice_scores

SCHEMA = schema_id("eval.summary")
CHOICE = ("mcqu", "mcq")
TASK_ORDER = ("mcqu", "mcq", "mcq+mcqu", "oeq")
MODE_ORDER = ("constrained", "greedy")
ORIGINAL = "original"


# ---------------------------------------------------------------- rows ----

def _letters(value, path, line, field) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) and len(x.strip()) == 1 and x.strip().isalpha()
                                              for x in value):
        raise InputError(path, "expected a list of single option letters, like [\"A\", \"C\"]", line=line,
                         field=field)
    return sorted({x.strip().upper() for x in value})


def read_predictions(path: str | Path) -> list[dict]:
    """Prediction rows from a JSONL file made by `eval` or elsewhere, checked and normalised.

    Needed: `id`, `task`; `gold` and `pred` (a list of letters, or null when the output was invalid) for
    mcq/mcqu; `reference` and `prediction` (null when invalid) for oeq. Optional: `source` (default: the file
    name), `mode` (default "external"), `variant` (default "original").
    """
    path = Path(path)
    rows = []
    first: dict[tuple, int] = {}
    for line, obj in iter_jsonl(path):
        for key in ("id", "task"):
            if obj.get(key) in (None, ""):
                raise InputError(path, "missing field", line=line, field=key)
        task = str(obj["task"]).strip().lower()
        # Ids and sources are joined on (`compare`, `agreement`) as `textnorm.join_key`s.
        row = {"id": join_key(obj["id"]), "task": task, "source": join_key(obj.get("source") or path.stem),
               "mode": str(obj.get("mode") or "external"), "variant": str(obj.get("variant") or ORIGINAL)}
        if task in CHOICE:
            if "gold" not in obj:
                raise InputError(path, "missing field", line=line, field="gold")
            row["gold"] = _letters(obj["gold"], path, line, "gold")
            if not row["gold"]:
                raise InputError(path, "no gold letter", line=line, field="gold")
            if "pred" not in obj:
                raise InputError(path, "missing field (null marks an invalid output)", line=line, field="pred")
            row["pred"] = None if obj["pred"] is None else _letters(obj["pred"], path, line, "pred")
        elif task == "oeq":
            for key in ("reference", "prediction"):
                if key not in obj:
                    raise InputError(path, "missing field", line=line, field=key)
            if not isinstance(obj["reference"], str) or not obj["reference"].strip():
                raise InputError(path, "expected a non-empty text", line=line, field="reference")
            if obj["prediction"] is not None and not isinstance(obj["prediction"], str):
                raise InputError(path, "expected a text or null", line=line, field="prediction")
            row["reference"], row["prediction"] = obj["reference"], obj["prediction"]
        else:
            raise InputError(path, f"unknown task {task!r}; expected mcqu, mcq or oeq", line=line, field="task")
        if isinstance(obj.get("scores"), dict):
            row["stored_scores"] = obj["scores"]
        # One row per item, decoding mode and option order: a repeated one would count an item twice.
        key = (row["source"], row["id"], task, row["mode"], row["variant"])
        if key in first:
            raise InputError(path, f"duplicate row: same source, id, task, mode and variant as line {first[key]}",
                             line=line, record=row["id"], field="id")
        first[key] = line
        rows.append(row)
    return rows


def score_rows(rows: Sequence[dict], *, bertscore_model: str | None = None,
               bertscore_layers: int | None = None) -> list[dict]:
    """Set every row's per-item `scores` from its gold/pred or reference/prediction."""
    from . import oeq

    open_rows = [r for r in rows if r["task"] == "oeq"]
    for r in rows:
        if r["task"] in CHOICE:
            r["scores"] = choice_scores(r["gold"], r["pred"])
    if open_rows:
        preds = [r["prediction"] or "" for r in open_rows]
        refs = [r["reference"] for r in open_rows]
        for r, s in zip(open_rows, oeq.item_scores(preds, refs, bertscore_model=bertscore_model,
                                                   bertscore_layers=bertscore_layers), strict=True):
            r["scores"] = s
    return list(rows)


# ---------------------------------------------------------------- metrics ----

def _round(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), 6)


def _entry(scope, metric, value, ci, n, **extra) -> dict:
    m = CATALOG[metric]
    e = {"source": scope[0], "task": scope[1], "mode": scope[2], "metric": metric, "value": _round(value),
         "ci": None if ci is None or any(_round(c) is None for c in ci) else [_round(c) for c in ci], "n": n}
    e.update(m.as_dict())
    e.update(extra)
    return e


def _scopes(rows: Sequence[dict]) -> dict[tuple, list[dict]]:
    tasks_by_source = defaultdict(set)
    for r in rows:
        tasks_by_source[r["source"]].add(r["task"])
    scopes = defaultdict(list)
    for r in rows:
        src, task, mode = r["source"], r["task"], r["mode"]
        keys = [(src, task, mode), ("all", task, mode)]
        if task in CHOICE:
            keys.append(("all", "mcq+mcqu", mode))
            if set(CHOICE) <= tasks_by_source[src]:
                keys.append((src, "mcq+mcqu", mode))
        for k in keys:
            scopes[k].append(r)
    return scopes


def _scope_order(scope):
    src, task, mode = scope
    mode_key = (MODE_ORDER.index(mode), "") if mode in MODE_ORDER else (len(MODE_ORDER), mode)
    return (src == "all", src, TASK_ORDER.index(task), mode_key)


def _macro_em(scope, orig, seed, n_boot) -> dict:
    """Mean over sources of each source's EM; the interval resamples items within each source."""
    by_source: dict[str, list[float]] = defaultdict(list)
    for r in orig:
        by_source[r["source"]].append(r["scores"]["em"])
    sets = {k: np.array(v) for k, v in sorted(by_source.items())}
    value = float(np.mean([v.mean() for v in sets.values()]))
    rng = rng_for(seed, *scope, "em_macro")
    boot = np.mean([v[resample_indices(v.size, rng, n_boot)].mean(axis=1) for v in sets.values()], axis=0)
    return _entry(scope, "em_macro", value, percentile_interval(boot), len(orig), pooling="macro",
                  sets={k: _round(v.mean()) for k, v in sets.items()})


def _choice_metrics(scope, rows, seed, n_boot) -> list[dict]:
    orig = [r for r in rows if r["variant"] == ORIGINAL]
    out = []
    if orig:
        for metric in ("em", "hamming"):
            v = np.array([r["scores"][metric] for r in orig])
            extra = {"pooling": "micro"} if metric == "em" and scope[0] == "all" else {}
            out.append(_entry(scope, metric, v.mean(), mean_ci(v, rng_for(seed, *scope, metric), n_boot), len(v),
                              **extra))
            if extra:
                out.append(_macro_em(scope, orig, seed, n_boot))
        inv = np.array([r["pred"] is None for r in orig], dtype=float)
        out.append(_entry(scope, "invalid", inv.mean(), mean_ci(inv, rng_for(seed, *scope, "invalid"), n_boot),
                          len(inv), count=int(inv.sum())))
    by_item = defaultdict(dict)
    for r in rows:
        by_item[(r["source"], r["id"], r["task"])][r["variant"]] = r
    out += _permutation_metrics(scope, by_item, seed, n_boot)
    out += _circular_metrics(scope, by_item, seed, n_boot)
    return out


def _permutation_metrics(scope, by_item, seed, n_boot) -> list[dict]:
    k = max((int(v[5:]) for item in by_item.values() for v in item if v.startswith("perm-")), default=0)
    names = [f"perm-{j}" for j in range(1, k + 1)]
    items = [v for v in by_item.values() if k and ORIGINAL in v and all(n in v for n in names)]
    if not items:
        return []
    em = np.array([[v[n]["scores"]["em"] for n in names] for v in items])  # (items, K)
    orig = np.array([v[ORIGINAL]["scores"]["em"] for v in items])
    per_perm = em.mean(axis=0)
    return [
        _entry(scope, "perm_em_mean", per_perm.mean(), mean_ci(em.mean(axis=1), rng_for(seed, *scope, "perm"),
               n_boot), len(items), per_permutation=[_round(x) for x in per_perm]),
        _entry(scope, "perm_em_std", per_perm.std(), None, len(items), k=k),
        _entry(scope, "perm_em_drop", (orig - em.mean(axis=1)).mean(),
               mean_ci(orig - em.mean(axis=1), rng_for(seed, *scope, "drop"), n_boot), len(items)),
    ]


def _circular_metrics(scope, by_item, seed, n_boot) -> list[dict]:
    items = []
    for v in by_item.values():
        n_rot = sum(1 for name in v if name.startswith("rot-"))
        if n_rot and ORIGINAL in v:
            items.append([v[ORIGINAL]] + [v[f"rot-{j}"] for j in range(1, n_rot + 1) if f"rot-{j}" in v])
    if not items:
        return []
    right = np.array([all(r["scores"]["em"] == 1.0 for r in group) for group in items], dtype=float)
    letters = sorted({g for group in items for r in group for g in r["gold"]})
    hits = np.zeros((len(items), len(letters)))
    golds = np.zeros((len(items), len(letters)))
    for i, group in enumerate(items):
        h, g = letter_recall_counts(group, letters)
        hits[i], golds[i] = h.sum(axis=0), g.sum(axis=0)

    def bias(h, g):
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(g > 0, h / np.where(g > 0, g, 1), np.nan)
        return recall, np.nanstd(recall, axis=-1)

    recall, value = bias(hits.sum(0), golds.sum(0))
    idx = resample_indices(len(items), rng_for(seed, *scope, "selection_bias"), n_boot)
    _, boot = bias(hits[idx].sum(1), golds[idx].sum(1))
    return [
        _entry(scope, "circular_em", right.mean(), mean_ci(right, rng_for(seed, *scope, "circular"), n_boot),
               len(items)),
        _entry(scope, "selection_bias", value, percentile_interval(boot), len(items),
               recall={x: _round(r) for x, r in zip(letters, recall, strict=True)}),
    ]


def _open_metrics(scope, rows, seed, n_boot, bertscore: dict | None) -> list[dict]:
    from . import oeq

    rows = [r for r in rows if r["variant"] == ORIGINAL]
    if not rows:
        return []
    preds = oeq.canonical_texts([r["prediction"] or "" for r in rows])
    refs = [oeq.canonical_texts([r["reference"] for r in rows])]
    out = []
    # Per-sentence sufficient statistics, summed per resample: the route sacrebleu's own significance tests take.
    for name, metric in (("bleu", oeq.bleu_metric()), ("chrf", oeq.chrf_metric())):
        stats = np.array(metric._extract_corpus_statistics(preds, refs))
        value = metric._compute_score_from_stats(list(stats.sum(axis=0))).score
        ci = statistic_ci(len(rows), lambda idx, m=metric, s=stats: m._compute_score_from_stats(
            list(s[idx].sum(axis=0))).score, rng_for(seed, *scope, name), n_boot)
        out.append(_entry(scope, name, value, ci, len(rows), signature=str(metric.get_signature())))
    for name in ("rouge2", "meteor", "bertscore_f1"):
        if all(name in r["scores"] for r in rows):
            v = np.array([r["scores"][name] for r in rows])
            extra = bertscore if name == "bertscore_f1" and bertscore else {}
            out.append(_entry(scope, name, v.mean(), mean_ci(v, rng_for(seed, *scope, name), n_boot), len(v),
                              **extra))
    return out


def summarize(rows: Sequence[dict], *, seed: int = 0, n_boot: int = N_BOOT, bertscore: dict | None = None) -> dict:
    """`results` and `headline` of summary.json from scored rows."""
    results = []
    for scope, group in sorted(_scopes(rows).items(), key=lambda kv: _scope_order(kv[0])):
        if scope[1] == "oeq":
            results += _open_metrics(scope, group, seed, n_boot, bertscore)
        else:
            results += _choice_metrics(scope, group, seed, n_boot)
    def pick(metric):
        return next((e for e in results if (e["source"], e["task"], e["mode"], e["metric"])
                     == ("all", "mcq+mcqu", "constrained", metric)), None)

    return {"headline": pick("em"), "headline_macro": pick("em_macro"), "results": results}


def results_table(results: Sequence[dict], *, title: str = "medinject eval"):
    """A rich table of the results (the bias metrics included)."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in ("source", "task", "mode", "metric", "value", "95% CI", "n"):
        table.add_column(col, justify="right" if col in ("value", "95% CI", "n") else "left")
    for e in results:
        fmt = "{:.2f}" if e["metric"] in ("bleu", "chrf") else "{:.4f}"
        metric = f"{e['metric']} ({e['pooling']})" if e.get("pooling") == "micro" else e["metric"]
        value = "-" if e["value"] is None else fmt.format(e["value"])
        ci = "" if not e["ci"] else f"[{fmt.format(e['ci'][0])}, {fmt.format(e['ci'][1])}]"
        table.add_row(e["source"], e["task"], e["mode"], metric, value, ci, str(e["n"]))
    return table


def headline_line(summary: dict) -> str | None:
    """The headline in words, naming its pooling: pooled (micro) first, then the mean of test sets (macro)."""
    head, macro = summary.get("headline"), summary.get("headline_macro")
    if not head or head.get("value") is None:
        return None
    text = f"headline: constrained EM {head['value']:.4f} pooled over {head['n']} items (micro)"
    if macro and macro.get("value") is not None:
        text += f"; {macro['value']:.4f} as the mean of {len(macro.get('sets') or {})} test sets (macro)"
    return text
