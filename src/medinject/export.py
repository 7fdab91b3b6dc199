"""Records out to the two exchange layouts: the MedInjection-FR hub layout and the reference evaluation JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import MedinjectError
from .io import atomic_path, load_records, write_json, write_jsonl
from .prompts import to_hub, to_reference_eval
from .records import Record

LAYOUTS: dict[str, Callable[[Record], dict[str, Any]]] = {
    "medinjection": to_hub,
    "reference-eval": to_reference_eval,
}
# Layouts written as a folder (`out` is a directory): a datasets folder for the Hub, an lm-eval task folder.
FOLDER_LAYOUTS = {"hf": ".interop.hf:export_hf", "lm-eval": ".interop.lmeval:export_lmeval"}
# The hub layout is also published as Parquet; the reference evaluation script reads one JSON list.
SUFFIXES = {"medinjection": (".jsonl", ".json", ".parquet"), "reference-eval": (".json", ".jsonl")}


def to_layout(records: Iterable[Record], layout: str) -> list[dict[str, Any]]:
    if layout not in LAYOUTS:
        raise MedinjectError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    return [LAYOUTS[layout](r) for r in records]


def _write_hub_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = ["instruction", "context", "answer", "type", "origin", "id", "source", "split", "lang", "parent_id", "meta"]
    rows = [{**r, "meta": json.dumps(r["meta"], ensure_ascii=False, sort_keys=True)} for r in rows]
    table = pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in cols]))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def export_records(records: Iterable[Record], layout: str, out: str | Path) -> int:
    """Write `records` in `layout` to `out` (format from its suffix); returns the count."""
    out = Path(out)
    if layout in SUFFIXES and out.suffix not in SUFFIXES[layout]:
        raise MedinjectError(f"{out}: {layout} is written as {' or '.join(SUFFIXES[layout])}")
    rows = to_layout(records, layout)
    if out.suffix == ".parquet":
        _write_hub_parquet(out, rows)
    elif out.suffix == ".json":
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
