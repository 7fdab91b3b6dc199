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
