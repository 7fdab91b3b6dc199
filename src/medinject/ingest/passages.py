"""French seed passages for synthesis: E3C clinical cases (JSONL) and MORFITT abstracts (TSV)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..io import iter_jsonl, parse_model
from ..records import Passage


def read_e3c(path: Path, *, source: str = "e3c", **_) -> Iterator[Passage]:
    for lineno, obj in iter_jsonl(path):
        meta = {k: obj[k] for k in ("layer", "source", "licence", "doi", "url") if obj.get(k)}
        rec = {"id": obj.get("id") or f"{source}-{lineno}", "text": obj.get("text", ""), "source": source,
               "lang": obj.get("language") or "fr", "meta": meta}
        yield parse_model(Passage, rec, path, line=lineno)


def read_morfitt(path: Path, *, source: str = "morfitt", **_) -> Iterator[Passage]:
    """TSV with a header: identifier, abstract, specialities (labels separated by '|')."""
    csv.field_size_limit(sys.maxsize)
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            missing = {"identifier", "abstract"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(path, "missing column in the header", line=1, field=sorted(missing)[0])
            n = 0
            for lineno, row in enumerate(reader, start=2):
                labels = [s for s in (row.get("specialities") or "").split("|") if s]
                rec = {"id": row["identifier"] or f"{source}-{lineno}", "text": (row["abstract"] or "").strip(),
                       "source": source, "lang": "fr", "meta": {"labels": labels}}
                n += 1
                yield parse_model(Passage, rec, path, line=lineno)
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
    if n == 0:
        raise InputError(path, "empty file: no records")
