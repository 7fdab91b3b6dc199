"""Records out to the published MedInjection-FR layouts (what `medinject ingest --format medinjection` reads).

A folder gets both layouts::

    OUT/Native|Translated|Synthetic/Train|Validation|Test/mcq|mcqu|oeq/<source>.json   component sets
    OUT/ALL/data/train|validation|test-00000-of-00001.parquet                          merged set

A component item is `{"messages": [user, assistant], "classes": [...], "answer": "A, C"}`: the record's own
source messages when it has them (`meta.messages`, as ingest keeps them), else the authors' rendering of the
question and the answer letters. A merged row has the string columns instruction, context, answer, type,
origin. Both also carry `medinject_record`, the full record as JSON, which readers of the published layout
ignore and which makes a round trip through medinject exact.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import MedinjectError
from .io import atomic_folder, atomic_path, write_json
from .prompts import assistant_text, authors_user_text
from .records import Record

MERGED_COLUMNS = ("instruction", "context", "answer", "type", "origin", "medinject_record")
_SPLIT_FOLDERS = {"train": "Train", "validation": "Validation", "test": "Test"}


def _record_json(record: Record) -> str:
    return record.model_dump_json()


def _messages(record: Record) -> list[dict[str, str]]:
    msgs = record.meta.get("messages")
    if isinstance(msgs, list) and msgs:
        return [dict(m) for m in msgs]
    return [{"role": "user", "content": authors_user_text(record)},
            {"role": "assistant", "content": assistant_text(record)}]


def component_item(record: Record) -> dict[str, Any]:
    return {"messages": _messages(record), "classes": list(record.options), "answer": assistant_text(record),
            "medinject_record": json.loads(_record_json(record))}


def merged_row(record: Record) -> dict[str, Any]:
    user = next((m["content"] for m in _messages(record) if m.get("role") == "user"), "")
    context = record.context or ""
    if not record.meta.get("messages"):
        instruction = authors_user_text(record.model_copy(update={"context": None}))
    elif context and user.startswith(context + "\n\n"):
        instruction = user[len(context) + 2:]
    else:
        instruction, context = user, ""
    return {"instruction": instruction, "context": context, "answer": assistant_text(record),
            "type": record.task.value, "origin": record.origin.value, "medinject_record": _record_json(record)}


def write_merged_parquet(path: Path, records: Iterable[Record]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [merged_row(r) for r in records]
    table = pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in MERGED_COLUMNS]))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(rows)


def write_published(records: Iterable[Record], out: str | Path) -> int:
    """Both layouts under the folder `out` (which must not hold files yet); returns the record count."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MedinjectError(f"{out}: the medinjection export writes a folder; give a new or empty one")
    records = list(records)
    components: dict[Path, list[dict]] = defaultdict(list)
    merged: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        split = _SPLIT_FOLDERS.get(r.split, r.split)
        components[Path(r.origin.value.capitalize(), split, r.task.value, f"{r.source}.json")].append(
            component_item(r))
        merged[r.split].append(r)
    with atomic_folder(out) as tmp:
        for rel, items in components.items():
            write_json(tmp / rel, items)
        for split, rs in merged.items():
            write_merged_parquet(tmp / "ALL" / "data" / f"{split}-00000-of-00001.parquet", rs)
    return len(records)
