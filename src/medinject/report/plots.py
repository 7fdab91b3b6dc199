"""PNG figures for the report, drawn on an Agg canvas (no display, no global matplotlib state)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ..plotting import new_figure, save_png

COLORS = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#718096", "#b7791f"]


def _ok(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def bars_with_intervals(path: Path, labels: Sequence[str], values: Sequence[float | None],
                        intervals: Sequence[Sequence[float | None] | None], *, title: str, ylabel: str,
                        highlight: Sequence[str] = ()) -> Path:
    """One bar per configuration with its 95% interval as an error bar."""
    fig, ax = new_figure(figsize=(max(4.5, 0.8 * len(labels) + 1.5), 3.6))
    xs = range(len(labels))
    vals = [v if _ok(v) else 0.0 for v in values]
    colors = [COLORS[1] if lab in highlight else COLORS[0] for lab in labels]
    ax.bar(xs, vals, yerr=_errors(values, intervals), capsize=4, color=colors, edgecolor="#1a202c", linewidth=0.5)
    for x, v in zip(xs, values, strict=True):
        if _ok(v):
            ax.annotate(f"{v:.3f}", (x, v), ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_xticks(list(xs), labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, max(1.0, max(vals + [0]) * 1.15) if max(vals + [0]) <= 1 else max(vals) * 1.15)
    ax.grid(axis="y", alpha=0.3)
    return save_png(fig, path)


def _errors(values, intervals) -> list[list[float]]:
    """matplotlib's (below, above) error lengths; 0 where a value or its interval is missing."""
    intervals = intervals or [None] * len(values)
    lo = [v - ci[0] if ci and _ok(ci[0]) and _ok(v) else 0.0 for v, ci in zip(values, intervals, strict=True)]
    hi = [ci[1] - v if ci and _ok(ci[1]) and _ok(v) else 0.0 for v, ci in zip(values, intervals, strict=True)]
    return [lo, hi]


def grouped_bars(path: Path, labels: Sequence[str], series: dict[str, Sequence[float | None]], *, title: str,
                 ylabel: str, intervals: dict[str, Sequence[Sequence[float | None] | None]] | None = None) -> Path:
    """Several values per configuration side by side (original vs permuted vs circular EM), with 95% intervals."""
    n = max(1, len(series))
    width = 0.8 / n
    fig, ax = new_figure(figsize=(max(4.5, 0.9 * len(labels) + 1.5), 3.6))
    for i, (name, vals) in enumerate(series.items()):
        xs = [x - 0.4 + width * (i + 0.5) for x in range(len(labels))]
        ax.bar(xs, [v if _ok(v) else 0.0 for v in vals], width, label=name, color=COLORS[i % len(COLORS)],
               edgecolor="#1a202c", linewidth=0.5, yerr=_errors(vals, (intervals or {}).get(name)), capsize=3)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return save_png(fig, path)

