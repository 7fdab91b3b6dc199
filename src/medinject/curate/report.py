"""The curation report: every loss counted by reason, origin and source; the decontamination list."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .filters import REASONS


def _table(codes: np.ndarray, names: list[str], kept: np.ndarray, reasons: dict[int, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    total = Counter(codes.tolist())
    kept_counts = Counter(codes[kept].tolist())
    lost: dict[int, Counter] = {}
    for i, reason in reasons.items():
        lost.setdefault(int(codes[i]), Counter())[reason] += 1
    for code in sorted(total, key=lambda c: names[c]):
        out[names[code]] = {"input": total[code], "kept": kept_counts.get(code, 0),
                            "rejected": _ordered(lost.get(code, Counter()))}
    return out


def _ordered(counts: Counter) -> dict[str, int]:
    return {r: counts[r] for r in REASONS if counts.get(r)}


def build_report(acc, inputs: list[Path], eval_files: list[Path], eval_index, locations, settings,
                 quality_stats: dict, judged: bool, hashes: dict[Path, str]) -> dict[str, Any]:
    from .analyse import ORIGINS

    n = len(acc.ids)
    origins = np.concatenate(acc.origins) if acc.origins else np.zeros(0, dtype=np.int8)
    origin_names = [o.value for o in ORIGINS] + ["unknown"]
    origin_codes = np.where(origins < 0, len(ORIGINS), origins)
    source_names = [s if s is not None else "unknown" for s in acc.sources]
    source_codes = np.array(acc.source_codes, dtype=np.int64)
    reasons = {i: r.reason for i, r in acc.rejects.items()}
    kept = np.ones(n, dtype=bool)
    kept[list(reasons)] = False

    per_file = Counter(fi for fi, _ in locations)
    removed = []
    by_eval: Counter = Counter()
    for i in sorted(i for i, r in acc.rejects.items() if r.reason == "contaminated"):
        d = acc.rejects[i].detail
        by_eval[d["eval_file"]] += 1
        fi, lineno = locations[i]
        removed.append({"id": acc.ids[i], "origin": origin_names[origin_codes[i]],
                        "source": source_names[source_codes[i]], "file": str(inputs[fi]), "line": lineno, **d})

    report: dict[str, Any] = {
        "inputs": [{"path": str(p), "sha256": hashes[p], "records": per_file.get(fi, 0)}
                   for fi, p in enumerate(inputs)],
        "eval_files": [{"path": str(p), "sha256": hashes[p],
                        "items": int(np.sum(eval_index.item_file == fi)) if eval_index else 0}
                       for fi, p in enumerate(eval_files)],
        "settings": settings.model_dump(mode="json", exclude={"progress", "workers", "chunk_size"}),
        "counts": {"input": n, "kept": int(kept.sum()), "rejected": n - int(kept.sum())},
        "by_reason": _ordered(Counter(reasons.values())),
        "by_origin": _table(origin_codes, origin_names, kept, reasons),
        "by_source": _table(source_codes, source_names, kept, reasons),
        "decontamination": {"by_eval_file": {str(p): by_eval.get(str(p), 0) for p in eval_files}, "removed": removed},
    }
    if judged:
        scored = quality_stats["scored"]
        report["quality"] = {"scored": scored, "unscored": quality_stats["unscored"],
                             "mean_score": round(quality_stats["sum"] / scored, 3) if scored else None,
                             "threshold": settings.quality_threshold,
                             "rejected": report["by_reason"].get("low_quality", 0)}
    return report


def markdown_report(report: dict[str, Any]) -> str:
    c = report["counts"]
    lines = ["# Curation report", "", f"{c['input']} records in, {c['kept']} kept, {c['rejected']} rejected.", ""]
    for title, key in (("By origin", "by_origin"), ("By source", "by_source")):
        table = report[key]
        reasons = [r for r in REASONS if any(r in row["rejected"] for row in table.values())]
        lines += [f"## {title}", "", "| | input | kept | " + " | ".join(reasons) + " |",
                  "|---|---:|---:|" + "---:|" * len(reasons)]
        for name, row in table.items():
            cells = [str(row["rejected"].get(r, 0)) for r in reasons]
            lines.append(f"| {name} | {row['input']} | {row['kept']} | " + " | ".join(cells) + " |")
        lines.append("")
    deco = report["decontamination"]
    if deco["by_eval_file"]:
        lines += ["## Decontamination", "", "| evaluation file | training records removed |", "|---|---:|"]
        lines += [f"| {f} | {k} |" for f, k in deco["by_eval_file"].items()]
        lines.append("")
        shown = deco["removed"][:50]
        if shown:
            lines += ["| record | origin | eval file | eval item | method |", "|---|---|---|---|---|"]
            lines += [f"| {r['id']} | {r['origin']} | {Path(r['eval_file']).name} | {r['eval_id']} | {r['method']} |"
                      for r in shown]
            if len(deco["removed"]) > len(shown):
                lines.append(f"\n… and {len(deco['removed']) - len(shown)} more in report.json.")
            lines.append("")
    if "quality" in report:
        q = report["quality"]
        lines += ["## Quality judge", "", f"scored {q['scored']}, unscored {q['unscored']}, mean {q['mean_score']}, "
                  f"threshold {q['threshold']}, rejected {q['rejected']}", ""]
    return "\n".join(lines)
