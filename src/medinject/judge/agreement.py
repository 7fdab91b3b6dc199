"""How far each automatic score can be trusted: correlation with the mean expert rating, and how far the experts
agree among themselves.

Human ratings: the CSV of `medinject annotate export` (annotator, item_id, system, score, ...).
Automatic scores, keyed by (item id, system):
- a judge output folder or its `verdicts.jsonl`: one score per judge mode (`judge-binary`, `judge-graded`);
- prediction files with per-item open-ended metrics (`scores` or `metrics` object, or top-level `bleu`,
  `rouge2`, `meteor`, `bertscore`...): one score per metric. `name=path` names the system of such a file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError, MedinjectError
from ..io import iter_jsonl, write_json, write_text
from ..schemas import schema_id
from ..textnorm import join_key
from . import stats
from .inputs import parse_specs

Key = tuple[str, str]  # (item id, system)

METRIC_NAMES = {"bleu": "BLEU", "sacrebleu": "BLEU", "chrf": "chrF", "rouge2": "ROUGE-2", "rouge_2": "ROUGE-2",
                "rouge-2": "ROUGE-2", "rouge2_f": "ROUGE-2", "meteor": "METEOR", "bertscore": "BERTScore",
                "bertscore_f1": "BERTScore", "bert_score": "BERTScore", "bertscore_f": "BERTScore"}
METHODS = ("pearson", "spearman", "kendall")


# ------------------------------------------------------------------ humans ----

def read_ratings(path: str | Path) -> list[dict]:
    """Rows of a ratings CSV, validated: annotator, item_id, system and a numeric score on every line."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    rows = []
    first: dict[tuple[str, str, str], int] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("annotator", "item_id", "system", "score") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(path, f"missing column(s) {', '.join(missing)}", line=1)
        for row in reader:
            line = reader.line_num
            for c in ("annotator", "item_id", "system"):
                if not (row.get(c) or "").strip():
                    raise InputError(path, "empty value", line=line, field=c)
            try:
                score = float(row["score"])
            except (TypeError, ValueError):
                raise InputError(path, f"score {row['score']!r} is not a number", line=line,
                                 record=row["item_id"], field="score") from None
            # Joined with the automatic scores on (item, system): the same `join_key` on both sides.
            key = tuple(join_key(row[c]) for c in ("annotator", "item_id", "system"))
            if key in first:
                raise InputError(path, f"duplicate rating: annotator {key[0]!r} rated item {key[1]!r} of system "
                                 f"{key[2]!r} already at line {first[key]}", line=line, record=key[1],
                                 field="item_id")
            first[key] = line
            rows.append({**row, "annotator": key[0], "item_id": key[1], "system": key[2], "score": score})
    if not rows:
        raise InputError(path, "no ratings")
    return rows


def mean_ratings(rows: Sequence[dict]) -> dict[Key, float]:
    acc: dict[Key, list[float]] = {}
    for r in rows:
        acc.setdefault((r["item_id"], r["system"]), []).append(r["score"])
    return {k: float(np.mean(v)) for k, v in acc.items()}


def inter_annotator(rows: Sequence[dict], *, level: str | None = None, n_boot: int = stats.N_BOOT,
                    seed: int = 0) -> dict:
    """Krippendorff's alpha over all annotators and, for exactly two, Cohen's kappa, with bootstrap intervals."""
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    annotators = sorted({r["annotator"] for r in rows})
    units = sorted({(r["item_id"], r["system"]) for r in rows})
    col = {u: j for j, u in enumerate(units)}
    matrix = np.full((len(annotators), len(units)), np.nan)
    for r in rows:
        matrix[annotators.index(r["annotator"]), col[(r["item_id"], r["system"])]] = r["score"]
    values = set(np.unique(matrix[~np.isnan(matrix)]).tolist())
    level = level or ("nominal" if values <= {0.0, 1.0} else "interval")
    out: dict = {"annotators": annotators, "units": len(units), "level": level}
    shared = (~np.isnan(matrix)).sum(axis=0) >= 2  # units that can show (dis)agreement
    m = matrix[:, shared]
    out["units_rated_twice"] = int(m.shape[1])

    def alpha(cols: np.ndarray) -> float:
        sub = m[:, cols.astype(int)]
        if len(np.unique(sub[~np.isnan(sub)])) < 2:
            return float("nan")  # one value everywhere: alpha is undefined
        return float(krippendorff.alpha(reliability_data=sub, level_of_measurement=level))

    if len(annotators) >= 2 and m.shape[1] >= 2:
        out["krippendorff_alpha"] = stats.bootstrap(alpha, np.arange(m.shape[1]), n_boot=n_boot, seed=seed)
    else:
        out["krippendorff_alpha"] = {"value": None, "ci": [None, None], "n": int(m.shape[1])}
    if len(annotators) == 2:
        both = m[:, ~np.isnan(m).any(axis=0)]
        weights = None if level == "nominal" else "quadratic"  # graded scale: near misses count as near
        labels = sorted(values)

        def kappa(a: np.ndarray, b: np.ndarray) -> float:
            if len(np.unique(a)) < 2 and len(np.unique(b)) < 2:
                return float("nan")
            return float(cohen_kappa_score(a, b, labels=labels, weights=weights))

        out["cohen_kappa"] = stats.bootstrap(kappa, both[0], both[1], n_boot=n_boot, seed=seed)
        out["cohen_kappa"]["weights"] = weights or "none"
    return out


# -------------------------------------------------------- automatic scores ----

def _metric_values(obj: dict) -> dict[str, float]:
    found: dict[str, float] = {}
    for holder in ("scores", "metrics"):
        d = obj.get(holder)
        if isinstance(d, dict):
            for k, v in d.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    found[METRIC_NAMES.get(k.lower(), k)] = float(v)
    for k, v in obj.items():
        if k.lower() in METRIC_NAMES and isinstance(v, (int, float)) and not isinstance(v, bool):
            found.setdefault(METRIC_NAMES[k.lower()], float(v))
    return found


def read_scores(path: str | Path, name: str | None = None) -> dict[str, dict[Key, float]]:
    """{score name: {(item id, system): value}} from a judge output or a predictions file."""
    path = Path(path)
    if path.is_dir():
        path = path / ("verdicts.jsonl" if (path / "verdicts.jsonl").exists() else "predictions.jsonl")
    out: dict[str, dict[Key, float]] = {}
    default_system = path.parent.name if path.stem == "predictions" else path.stem
    first: dict[tuple, int] = {}

    def put(label: str, key: Key, value: float, lineno: int) -> None:
        if (label, *key) in first:
            raise InputError(path, f"duplicate row: {label} of item {key[0]!r}, system {key[1]!r} already at line "
                             f"{first[(label, *key)]}", line=lineno, record=key[0], field="id")
        first[(label, *key)] = lineno
        out.setdefault(label, {})[key] = value

    for lineno, obj in iter_jsonl(path):
        rid = obj.get("id")
        if rid is None:
            raise InputError(path, "missing item id", line=lineno, field="id")
        rid = join_key(rid)
        if "mode" in obj and "status" in obj and "system" in obj:  # a judge verdict
            if obj["status"] != "ok":
                continue  # unparseable or failed verdicts are excluded, as in the judge summary
            put(f"{name or 'judge'}-{obj['mode']}", (rid, join_key(obj["system"])), float(obj["score"]), lineno)
            continue
        if obj.get("task") not in (None, "oeq"):
            continue
        system = join_key(name or obj.get("system") or default_system)
        for metric, v in _metric_values(obj).items():
            put(metric, (rid, system), v, lineno)
    if not out:
        raise InputError(path, "no judge verdicts nor per-item open-ended metrics found")
    return out


def load_scores(score_files) -> dict[str, dict[Key, float]]:
    """Merge several score files ({name: path}, `name=path` strings or paths); a repeated name is an error."""
    if isinstance(score_files, Mapping):
        specs = [(str(p), n) for n, p in score_files.items()]
    else:
        specs = parse_specs([str(s) for s in score_files])
    merged: dict[str, dict[Key, float]] = {}
    for path, name in specs:
        for metric, values in read_scores(path, name).items():
            target = merged.setdefault(metric, {})
            clash = set(values) & set(target)
            if clash:
                item, system = sorted(clash)[0]
                raise InputError(path, f"{metric} given twice for system {system!r}", record=item)
            target.update(values)
    return merged


# ------------------------------------------------------------------- table ----

def agreement_table(human: dict[Key, float], scores: dict[str, dict[Key, float]], **kw) -> list[dict]:
    """One row per automatic score: n and each correlation with the mean expert rating (with intervals)."""
    rows = []
    for name, values in scores.items():
        keys = sorted(set(values) & set(human))
        x = np.array([values[k] for k in keys], dtype=float)
        y = np.array([human[k] for k in keys], dtype=float)
        rows.append({"score": name, "n": len(keys), **stats.correlations(x, y, methods=METHODS, **kw),
                     "_x": x, "_y": y})
    return rows


def _f(v) -> str:
    return "" if v is None else f"{v:.4f}"


def table_markdown(rows: Sequence[dict], iaa: dict) -> str:
    lines = ["| score | n | Pearson r [95% CI] | Spearman rho [95% CI] | Kendall tau [95% CI] |",
             "|---|---|---|---|---|"]
    for r in rows:
        cells = []
        for m in METHODS:
            d = r[m]
            cells.append("n/a" if d["value"] is None else f"{d['value']:.3f}" + (
                f" [{d['ci'][0]:.3f}, {d['ci'][1]:.3f}]" if d["ci"][0] is not None else ""))
        lines.append(f"| {r['score']} | {r['n']} | " + " | ".join(cells) + " |")
    a = iaa["krippendorff_alpha"]
    lines += ["", f"Annotators: {len(iaa['annotators'])}; units rated by two or more: {iaa['units_rated_twice']}."]
    if a["value"] is not None:
        lines.append(f"Krippendorff's alpha ({iaa['level']}): {a['value']:.3f}"
                     + (f" [{a['ci'][0]:.3f}, {a['ci'][1]:.3f}]" if a["ci"][0] is not None else ""))
    k = iaa.get("cohen_kappa")
    if k and k["value"] is not None:
        lines.append(f"Cohen's kappa ({k['weights']} weights): {k['value']:.3f}"
                     + (f" [{k['ci'][0]:.3f}, {k['ci'][1]:.3f}]" if k["ci"][0] is not None else ""))
    return "\n".join(lines) + "\n"


def table_csv(rows: Sequence[dict]) -> str:
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["score", "n"] + [f"{m}{s}" for m in METHODS for s in ("", "_low", "_high")])
    for r in rows:
        w.writerow([r["score"], r["n"]] + [_f(v) for m in METHODS for v in (r[m]["value"], *r[m]["ci"])])
    return buf.getvalue()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "score"


def scatter_plots(rows: Sequence[dict], out_dir: Path) -> list[Path]:
    from ..plotting import new_figure, save_png

    paths = []
    for r in rows:
        fig, ax = new_figure(figsize=(4.2, 3.6))
        ax.scatter(r["_x"], r["_y"], s=18, alpha=0.7)
        if r["n"] >= 2 and np.ptp(r["_x"]) > 0:
            b, a = np.polyfit(r["_x"], r["_y"], 1)
            xs = np.linspace(r["_x"].min(), r["_x"].max(), 2)
            ax.plot(xs, a + b * xs, color="C3", lw=1)
        p = r["pearson"]["value"]
        ax.set_title(f"{r['score']}: r = {p:.2f} (n = {r['n']})" if p is not None else f"{r['score']} (n = {r['n']})",
                     fontsize=10)
        ax.set_xlabel(r["score"])
        ax.set_ylabel("mean expert rating")
        fig.tight_layout()
        paths.append(save_png(fig, out_dir / f"scatter_{_slug(r['score'])}.png", tight=False))
    return paths


def run_agreement(human_csv: str | Path, score_files, out_dir: str | Path, *, level: str | None = None,
                  n_boot: int = stats.N_BOOT, seed: int = 0, ratings_note: str | None = None) -> list[dict]:
    """Agreement of each automatic score with the experts; writes agreement.{md,csv,json} and scatter PNGs.
    `ratings_note` says where the ratings come from when a reader could take them for something else.

    Returns the table rows (score, n, pearson/spearman/kendall each {value, ci, n}).
    """
    ratings = read_ratings(human_csv)
    human = mean_ratings(ratings)
    scores = load_scores(score_files)
    kw = {"n_boot": n_boot, "seed": seed}
    rows = agreement_table(human, scores, **kw)
    if not any(r["n"] for r in rows):
        raise MedinjectError(f"no (item id, system) pair is both rated in {human_csv} and scored: "
                             "check the item ids and system names")
    iaa = inter_annotator(ratings, level=level, **kw)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = scatter_plots(rows, out)
    table = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    write_text(out / "agreement.md", table_markdown(table, iaa))
    write_text(out / "agreement.csv", table_csv(table))
    write_json(out / "agreement.json", {"schema": schema_id("agreement.summary"),
                                        "scores": table, "inter_annotator": iaa, "rated_pairs": len(human),
                                        "plots": [p.name for p in plots],
                                        **({"ratings_note": ratings_note} if ratings_note else {}),
                                        "bootstrap": {"n_boot": n_boot, "seed": seed,
                                                      "confidence": stats.CONFIDENCE}})
    return table
