"""Records out to exchange layouts: the published MedInjection-FR layouts and the reference evaluation JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import MedinjectError
from .io import load_records, write_json, write_jsonl
from .prompts import to_reference_eval
from .records import Record

LAYOUTS: dict[str, Callable[[Record], dict[str, Any]] | None] = {
    "medinjection": None,  # whole folders, written by `published`
    "reference-eval": to_reference_eval,
}
# Layouts written as a folder (`out` is a directory): a datasets folder for the Hub, an lm-eval task folder.
FOLDER_LAYOUTS = {"hf": ".interop.hf:export_hf", "lm-eval": ".interop.lmeval:export_lmeval"}
# medinjection: a folder (both published layouts) or one merged-layout .parquet file.
SUFFIXES = {"medinjection": ("", ".parquet"), "reference-eval": (".json", ".jsonl")}


def to_layout(records: Iterable[Record], layout: str) -> list[dict[str, Any]]:
    if LAYOUTS.get(layout) is None:
        raise MedinjectError(f"unknown row layout {layout!r}; choose one of reference-eval")
    return [LAYOUTS[layout](r) for r in records]


def export_records(records: Iterable[Record], layout: str, out: str | Path) -> int:
    """Write `records` in `layout` to `out` (format from its suffix); returns the count."""
    out = Path(out)
    if layout in SUFFIXES and out.suffix not in SUFFIXES[layout]:
        kinds = " or ".join(x or "a folder" for x in SUFFIXES[layout])
        raise MedinjectError(f"{out}: {layout} is written as {kinds}")
    if layout == "medinjection":
        from .published import write_merged_parquet, write_published

        return write_merged_parquet(out, records) if out.suffix == ".parquet" else write_published(records, out)
    rows = to_layout(records, layout)
    if out.suffix == ".json":
        write_json(out, rows)
    else:
        write_jsonl(out, rows)
    return len(rows)


def run_export(src: str | Path, layout: str, out: str | Path) -> int:
    """Records file (.jsonl or .parquet) to `layout` at `out`."""
    if layout in FOLDER_LAYOUTS:
        import importlib

        mod, fn = FOLDER_LAYOUTS[layout].split(":")
        return sum(getattr(importlib.import_module(mod, __package__), fn)(load_records(src), out).values())
    if layout not in LAYOUTS:
        raise MedinjectError(f"unknown layout {layout!r}; choose one of {', '.join([*LAYOUTS, *FOLDER_LAYOUTS])}")
    return export_records(load_records(src), layout, out)
