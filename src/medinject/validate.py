"""Check a records or passages file whole: every problem with its place, not just the first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from .errors import InputError, first_validation_problem
from .records import Passage, Record
from .textnorm import join_key

Kind = Literal["auto", "records", "passages"]
MODELS: dict[str, type[BaseModel]] = {"records": Record, "passages": Passage}


@dataclass
class Report:
    path: Path
    kind: str
    rows: int = 0  # rows read, good or bad
    bad: int = 0  # rows with at least one problem
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: InputError) -> None:
        self.problems.append(str(problem))


def guess_kind(obj: dict) -> str:
    """Passages have `text` and no `question`; everything else is read as a record."""
    return "passages" if "text" in obj and "question" not in obj else "records"


def _jsonl_rows(path: Path) -> Iterator[tuple[dict | InputError, dict]]:
    """(object, place), or (the problem, place) for a line that is not a JSON object."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = {"line": lineno}
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                yield InputError(path, f"not UTF-8 text (byte {e.start})", **where), where
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield InputError(path, f"malformed JSON: {e.msg} (column {e.colno})", **where), where
                continue
            if not isinstance(obj, dict):
                yield InputError(path, f"expected a JSON object, got {type(obj).__name__}", **where), where
                continue
            yield obj, where


def _parquet_rows(path: Path) -> Iterator[tuple[dict, dict]]:
    from .io import _row_record, iter_parquet

    i = 0
    for rows in iter_parquet(path):
        for row in rows:
            i += 1
            yield _row_record(row), {"record": str(row.get("id") or f"#{i}")}


def validate_file(path: str | Path, kind: Kind = "auto") -> Report:
    """Read `path` to the end and list every problem; file-level problems (missing, empty) raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "not a file")
    if kind not in ("auto", *MODELS):
        raise InputError(path, f"unknown kind {kind!r}; use records, passages or auto")
    report = Report(path, kind if kind != "auto" else "records")
    rows = _parquet_rows(path) if path.suffix == ".parquet" else _jsonl_rows(path)
    seen: dict[str, str] = {}
    guessed = kind != "auto"
    for obj, where in rows:
        report.rows += 1
        if isinstance(obj, InputError):
            report.bad += 1
            report.add(obj)
            continue
        if not guessed:
            report.kind, guessed = guess_kind(obj), True  # decided by the first readable row
        try:
            item = MODELS[report.kind].model_validate(obj)
        except ValidationError as e:
            fld, msg = first_validation_problem(e)
            place = dict(where)
            if "record" not in place and obj.get("id"):
                place["record"] = str(obj["id"])
            more = f" (and {e.error_count() - 1} more in this row)" if e.error_count() > 1 else ""
            report.bad += 1
            report.add(InputError(path, msg + more, field=fld, **place))
            continue
        problems = []
        place = {"record": item.id, **where}  # a Parquet row's place is already its record
        key = join_key(item.id)  # what score, compare and agreement join on: "x1 " is x1
        if key in seen:
            problems.append(InputError(path, f"duplicate id, first at {seen[key]}", field="id", **place))
        else:
            seen[key] = ", ".join(f"{k} {v}" for k, v in where.items())
        shared = gold_shares_text(item) if isinstance(item, Record) else []
        if shared:
            problems.append(InputError(path, f"options {' and '.join(shared)} share one text but not the gold "
                                       "(ambiguous answer)", field="options", **place))
        if problems:
            report.bad += 1
            for p in problems:
                report.add(p)
    if report.rows == 0:
        raise InputError(path, "empty file: no records")
    return report


def gold_shares_text(record: Record) -> list[str]:
    """Letters of options sharing one text (by `textnorm.match_key`) of which some are gold and some not.

    Such a gold cannot be told apart from a wrong answer: a gold given as text picked one of them by chance,
    and a model choosing the other copy is scored wrong for the same answer. Empty when there is none.
    """
    if not record.is_choice:
        return []
    from .textnorm import match_key

    groups: dict[str, list[str]] = {}
    for letter, text in record.options.items():
        groups.setdefault(match_key(text), []).append(letter)
    gold = set(record.letters)
    for letters in groups.values():
        if len(letters) > 1 and gold & set(letters) and set(letters) - gold:
            return letters
    return []
