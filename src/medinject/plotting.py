"""Figures drawn through matplotlib's object API on an Agg canvas.

Nothing here touches matplotlib's global state (no `matplotlib.use`, no pyplot), so importing medinject in a
notebook leaves its backend alone, and matplotlib is loaded only when a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .io import atomic_path


def new_figure(*, figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, dpi: int = 110,
               **subplot_kw: Any):
    """A figure with its own Agg canvas and its axes (an array when there is more than one)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, **subplot_kw)
    return fig, axes


def save_png(fig, path: str | Path, *, dpi: int = 110, tight: bool = True) -> Path:
    """Write `fig` as PNG atomically; no timestamp metadata, so the same figure gives the same bytes."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight" if tight else None,
                    metadata={"Software": None})
    return path


def loss_plot(curves: dict[str, list[list[float]]], path: str | Path, title: str) -> Path | None:
    """Training loss per optimizer step, and the evaluation loss where the run had validation data."""
    if not curves.get("train") and not curves.get("eval"):
        return None
    from matplotlib.ticker import MaxNLocator

    fig, ax = new_figure(figsize=(4.6, 3.0))
    for name, pts in curves.items():
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o" if name == "eval" else None, markersize=3, label=f"{name} loss")
    if not curves.get("eval"):
        ax.plot([], [], " ", label="no evaluation loss (no validation data)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save_png(fig, path)
