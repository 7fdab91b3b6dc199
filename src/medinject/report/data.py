"""Reading stage outputs into report tables: data composition, curation losses, judge scores, agreement.

Every number is copied from the stage's own output file, never recomputed, so the report says exactly
what the stages measured. (The evaluation tables, which add paired tests, live in `evaluation.py`.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..schemas import check
from .render import Table


def read_json(path: Path, schema: str | None = None) -> Any:
    """The JSON at `path`; with `schema`, refused in one line unless it is that artifact (`schemas.check`)."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found (is the stage finished?)") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"malformed JSON: {e.msg}", line=e.lineno) from None
    return check(obj, schema, path) if schema else obj


def _ci(d: dict | None, i: int) -> float | None:
    ci = (d or {}).get("ci") or [None, None]
    return ci[i]


# -------------------------------------------------------------------- curation --

def curation_tables(curate_dir: Path) -> list[Table]:
    """Losses by reason for each origin, and what decontamination removed per evaluation file."""
    rep = read_json(Path(curate_dir) / "report.json", "curate.report")
    reasons = list(rep.get("by_reason", {}))
    rows = []
    for origin, row in rep.get("by_origin", {}).items():
        rows.append({"origin": origin, "input": row["input"], "kept": row["kept"],
                     **{r: row["rejected"].get(r, 0) for r in reasons}})
    c = rep["counts"]
    rows.append({"origin": "total", "input": c["input"], "kept": c["kept"], **rep.get("by_reason", {})})
    losses = Table("curation_losses", ["origin", "input", "kept", *reasons], rows,
                   note="Records rejected by curation, by reason (a record counts once, under its first reason).")
    deco = rep.get("decontamination", {}).get("by_eval_file", {})
    contam = Table("decontamination", ["evaluation file", "training records removed"],
                   [{"evaluation file": Path(f).name, "training records removed": n} for f, n in deco.items()])
    return [losses, contam]


def generation_table(stage_dirs: dict[str, str]) -> Table:
    """What translation and synthesis kept and rejected, by reason, from each job's summary."""
    rows, reasons = [], []
    for name, d in stage_dirs.items():
        found = sorted(Path(d).glob("*.summary.json"))
        if not found:
            continue
        s = read_json(found[0])
        by = s.get("rejected_by_reason") or {}
        reasons += [r for r in by if r not in reasons]
        rows.append({"job": name, "items": s.get("items"), "accepted": s.get("accepted"),
                     "records": s.get("records"), "rejected": s.get("rejected"), **by})
    for r in rows:
        for reason in reasons:
            r.setdefault(reason, 0)
    return Table("generation_losses", ["job", "items", "accepted", "records", "rejected", *reasons], rows,
                 note="Translation and synthesis outputs rejected by their checks, by reason (after one retry); "
                      "the raw outputs are in each job's rejected file.")


# ------------------------------------------------------------------ composition --

def _manifest_counts(m: dict) -> tuple[int, dict[str, dict[str, int]]]:
    counts = m.get("counts") or {}
    total = m.get("size") or m.get("n") or sum((counts.get("origin") or {}).values())
    return int(total or 0), {k: dict(v) for k, v in counts.items() if isinstance(v, dict)}


def composition_tables(mix_dir: Path, configs: list[str] | None = None) -> list[Table]:
    """Counts by origin, task and source in each mix, from its manifest.json."""
    mix_dir = Path(mix_dir)
    found = {p.parent.name: p for p in sorted(mix_dir.glob("*/manifest.json"))}
    names = [c for c in (configs or []) if c in found] + [c for c in found if c not in (configs or [])]
    by_dim: dict[str, list[dict]] = {"origin": [], "task": [], "source": []}
    keys: dict[str, list[str]] = {"origin": [], "task": [], "source": []}
    for name in names:
        total, counts = _manifest_counts(read_json(found[name], "mix.manifest"))
        for dim in by_dim:
            c = counts.get(dim, {})
            keys[dim] += [k for k in c if k not in keys[dim]]
            by_dim[dim].append({"mix": name, "records": total, **c})
    return [Table(f"composition_{dim}", ["mix", "records", *keys[dim]], rows,
                  note=f"Records per {dim} in each mix (from the mix manifests).") for dim, rows in by_dim.items()]


# ------------------------------------------------------------------------ judge --

def judge_table(judge_dir: Path, configs: list[str]) -> Table:
    s = read_json(Path(judge_dir) / "summary.json", "judge.summary")
    systems = s.get("systems", {})
    modes = sorted({m for sys in systems.values() for m in sys})
    cols = ["configuration"]
    for m in modes:
        cols += [f"judge {m}", f"{m} 95% CI low", f"{m} 95% CI high", f"{m} parsed", f"{m} unparseable",
                 f"{m} failed", f"{m} length-controlled", f"{m} length-controlled CI low",
                 f"{m} length-controlled CI high"]
    rows, parsed, unparseable = [], 0, 0
    for c in [c for c in configs if c in systems] + [c for c in systems if c not in configs]:
        row: dict[str, Any] = {"configuration": c}
        for m in modes:
            d = systems[c].get(m)
            if d is None:
                continue
            mean, lc, excluded = d["mean"], d.get("length_controlled") or {}, d.get("excluded") or {}
            row |= {f"judge {m}": mean["value"], f"{m} 95% CI low": _ci(mean, 0), f"{m} 95% CI high": _ci(mean, 1),
                    f"{m} parsed": mean.get("n") or 0, f"{m} unparseable": excluded.get("unparseable", 0),
                    f"{m} failed": excluded.get("failed", 0), f"{m} length-controlled": lc.get("value"),
                    f"{m} length-controlled CI low": _ci(lc, 0), f"{m} length-controlled CI high": _ci(lc, 1)}
            parsed += row[f"{m} parsed"]
            unparseable += row[f"{m} unparseable"]
        rows.append(row)
    note = ("Mean judge verdict per configuration (binary: share judged equivalent; graded: 1-10), bootstrap 95% "
            "intervals over the parsed verdicts; unparseable and failed verdicts are excluded and counted.")
    if rows and parsed == 0:
        note = (f"No verdict could be parsed ({unparseable} unparseable): the judge model did not answer in the "
                "expected format, so there is no judge score. " + note)
    for m in modes:
        same = _constant(systems, m)
        if same is not None:
            note += (f" Every parsed {m} verdict was {same:g}, for every configuration: the judge did not tell "
                     f"answers apart, so its {m} scores say nothing about the configurations.")
    return Table("judge", cols, rows, note=note)


def _constant(systems: dict[str, dict], mode: str) -> float | None:
    """The one value every parsed verdict of `mode` took (an interval of zero width holds one value), or None."""
    values = set()
    for sys in systems.values():
        mean = (sys.get(mode) or {}).get("mean") or {}
        if not mean.get("n"):
            continue
        if mean.get("ci") is None or not mean["ci"][0] == mean["value"] == mean["ci"][1]:
            return None
        values.add(mean["value"])
    return values.pop() if len(values) == 1 else None


def judge_scores(judge_dir: Path) -> dict[str, dict[str, dict]]:
    return read_json(Path(judge_dir) / "summary.json", "judge.summary").get("systems", {})


# -------------------------------------------------------------------- agreement --

def agreement_tables(agreement_dir: Path) -> tuple[list[Table], list[Path]]:
    """Judge and metric correlations with the experts, inter-annotator agreement, and the scatter plots."""
    a = read_json(Path(agreement_dir) / "agreement.json", "agreement.summary")
    methods = ("pearson", "spearman", "kendall")
    rows = []
    for r in a.get("scores", []):
        row = {"score": r.get("score"), "n": r.get("n")}
        for m in methods:
            d = r.get(m) or {}
            row |= {m: d.get("value"), f"{m} CI low": _ci(d, 0), f"{m} CI high": _ci(d, 1)}
        rows.append(row)
    cols = ["score", "n"] + [c for m in methods for c in (m, f"{m} CI low", f"{m} CI high")]
    iaa = a.get("inter_annotator") or {}
    iaa_rows = [{"measure": name, "value": (iaa.get(key) or {}).get("value"), "CI low": _ci(iaa.get(key), 0),
                 "CI high": _ci(iaa.get(key), 1), "annotators": len(iaa.get("annotators", [])),
                 "items rated twice": iaa.get("units_rated_twice")}
                for key, name in (("krippendorff_alpha", "Krippendorff's alpha"), ("cohen_kappa", "Cohen's kappa"))
                if key in iaa]
    plots = [Path(agreement_dir) / p for p in a.get("plots", []) if (Path(agreement_dir) / p).exists()]
    caveat = f" {a['ratings_note']}" if a.get("ratings_note") else ""
    return [Table("agreement", cols, rows, note="Correlation of each automatic score with the mean expert rating, "
                  "bootstrap 95% intervals." + caveat),
            Table("inter_annotator", ["measure", "value", "CI low", "CI high", "annotators", "items rated twice"],
                  iaa_rows, note=caveat.strip())], plots
