"""Any table of questions (JSON, JSONL, CSV/TSV, Parquet) through a field mapping: a new data set needs no code.

The mapping names, for each record field, the column that holds it, e.g.
`question=q,options=opt_a|opt_b|opt_c,answer=gold,answer_as=index,context=ctx,id=uid`, or the same keys in a
small YAML file.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ..errors import InputError, MedinjectError
from ..io import parse_model, read_yaml
from ..records import Origin, Record, Task, letters_for
from ..textnorm import match_key
from .exchange import iter_rows

TASK_VALUES = {t.value for t in Task}
_SPLIT_ANSWER = re.compile(r"[,;|\s]+")
_LETTER_ANSWER = re.compile(r"^\s*[A-Za-z](?:\s*[,;|\s]\s*[A-Za-z])*\s*$")  # "B", "a;c", "A, C", not "Oui"


class FieldMap(BaseModel):
    """Which source column feeds each record field."""

    model_config = ConfigDict(extra="forbid")

    question: str
    answer: str
    # One column holding a list or a letter->text object, or one column per option (A, B, C... in order).
    options: str | list[str] | None = None
    # The option texts themselves, the same for every row (`yes|no|maybe`), instead of option columns.
    option_values: list[str] | None = None
    answer_as: Literal["letter", "index", "index1", "text"] = "letter"  # index: 0-based, index1: 1-based
    # A column holding the gold option's text as well (MedMCQA-style exports): checked against `answer`.
    answer_text: str | None = None
    context: str | None = None
    instruction: str | None = None
    id: str | None = None
    # A column with mcqu/mcq/oeq in each row, or one of those values for every row; inferred when absent.
    task: str | None = None
    parent_id: str | None = None
    origin: str | None = None
    source: str | None = None
    split: str | None = None
    lang: str | None = None
    meta: list[str] = []  # columns copied into `meta` as they are

    @field_validator("options", "meta", "option_values", mode="before")
    @classmethod
    def _split_bars(cls, v: Any) -> Any:
        if isinstance(v, str) and "|" in v:
            return [s.strip() for s in v.split("|") if s.strip()]
        return [v] if isinstance(v, str) and v else v

    @field_validator("options")
    @classmethod
    def _one_column_is_a_string(cls, v: Any) -> Any:
        if isinstance(v, list):
            if not v:
                raise ValueError("options: no column named")
            return v[0] if len(v) == 1 else v
        return v

    @model_validator(mode="after")
    def _coherent(self) -> FieldMap:
        if self.option_values is not None:
            if self.options is not None:
                raise ValueError("give options (columns) or option_values (constant texts), not both")
            if len(self.option_values) < 2:
                raise ValueError("option_values: give at least two texts, separated by '|'")
            if len({match_key(v) for v in self.option_values}) < len(self.option_values):
                raise ValueError("option_values: two options share one text")
        if self.options is None and self.option_values is None and self.answer_as in ("index", "index1"):
            raise ValueError(f"answer_as={self.answer_as} needs options to count in")
        if (self.task in TASK_VALUES and self.task != Task.OEQ.value and self.options is None
                and self.option_values is None):
            raise ValueError(f"task={self.task} needs options")
        return self

    def columns(self) -> list[str]:
        """Every source column the mapping reads (the task may be a constant instead)."""
        cols = [self.question, self.answer]
        cols += [self.options] if isinstance(self.options, str) else list(self.options or [])
        cols += [c for c in (self.context, self.instruction, self.id, self.parent_id, self.origin, self.source,
                             self.split, self.lang, self.answer_text) if c]
        if self.task and self.task not in TASK_VALUES:
            cols.append(self.task)
        return cols + self.meta


def parse_mapping_text(text: str) -> dict[str, Any]:
    """'question=q,options=a|b,answer=gold' -> {'question': 'q', 'options': 'a|b', 'answer': 'gold'}."""
    out: dict[str, Any] = {}
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        key, eq, value = piece.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise MedinjectError(f"bad --map: {piece!r} is not key=column")
        key = key.strip()
        if key in out:
            raise MedinjectError(f"bad --map: {key!r} is given twice")
        out[key] = value.strip()
    if not out:
        raise MedinjectError("bad --map: empty mapping")
    return out


def _load_yaml_mapping(path: Path) -> dict[str, Any]:
    data = read_yaml(path, strings=True)  # column names and constant texts: `yes`/`no` are not booleans here
    if not isinstance(data, dict):
        raise InputError(path, f"a mapping file holds key: column pairs, got {type(data).__name__}")
    return data


def load_mapping(mapping: FieldMap | dict | str | Path | None) -> FieldMap:
    """A FieldMap from a dict, a 'key=column,...' string, or a YAML file path."""
    if isinstance(mapping, FieldMap):
        return mapping
    if mapping is None:
        raise MedinjectError("the generic format needs a field mapping (--map 'question=..,answer=..' or a YAML file)")
    where = "--map"
    if isinstance(mapping, Path) or (isinstance(mapping, str) and "=" not in mapping):
        path = Path(mapping)
        if not path.is_file():
            if path.suffix.lower() in (".yaml", ".yml"):
                raise InputError(path, "mapping file not found")
            raise MedinjectError(f"bad --map: {str(mapping)!r} is neither 'key=column,...' nor a YAML file")
        raw, where = _load_yaml_mapping(path), str(path)
    elif isinstance(mapping, str):
        raw = parse_mapping_text(mapping)
    else:
        raw = dict(mapping)
    try:
        return FieldMap.model_validate(raw)
    except ValidationError as e:
        # A misspelt key also leaves a required one missing: name the misspelling first.
        err = sorted(e.errors(), key=lambda x: x.get("type") != "extra_forbidden")[0]
        key = ".".join(str(p) for p in err.get("loc", ()) if not isinstance(p, int))
        msg = err.get("msg", "").removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            close = difflib.get_close_matches(key, FieldMap.model_fields, n=1)
            msg = f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            msg += f"; keys: {', '.join(FieldMap.model_fields)}"
        elif err.get("type") == "missing":
            msg = f"{key!r} is required (the column holding the {key})"
        elif key and not msg.startswith(f"{key}:"):
            msg = f"{key}: {msg}"
        raise MedinjectError(f"bad mapping ({where}): {msg}") from None


# ------------------------------------------------------------------ rows ----

def _csv_rows(path: Path, columns: list[str]) -> Iterator[tuple[dict, dict]]:
    if not path.exists():
        raise InputError(path, "file not found")
    csv.field_size_limit(sys.maxsize)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            header = reader.fieldnames or []
            if not header:
                raise InputError(path, "empty file: no header and no records")
            for col in columns:
                if col not in header:
                    raise InputError(path, f"mapped column not in the header ({', '.join(header)})", line=1,
                                     field=col)
            n = 0
            for row in reader:
                n += 1
                yield row, {"line": reader.line_num}
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
    except csv.Error as e:
        raise InputError(path, f"malformed CSV: {e}") from None
    if n == 0:
        raise InputError(path, "empty file: no records")


def _rows(path: Path, columns: list[str]) -> Iterator[tuple[dict, dict]]:
    if path.suffix.lower() in (".csv", ".tsv"):
        return _csv_rows(path, columns)
    if path.suffix.lower() not in (".json", ".jsonl", ".parquet"):
        raise InputError(path, "the generic format reads .json, .jsonl, .csv, .tsv or .parquet files")
    return _keyed_rows(path, columns)


def _keyed_rows(path: Path, columns: list[str]) -> Iterator[tuple[dict, dict]]:
    """JSON and Parquet rows, then one error if a mapped column is a key of no row at all: a key may be missing
    from some rows (sparse records), but one missing from every row is a mistyped name, which would otherwise
    drop that field silently (`lang=LANGUAGE` for `language` left English text labelled French)."""
    wanted, seen = set(columns), set()
    for row, where in iter_rows(path):
        if isinstance(row, dict):
            seen.update(k for k in wanted - seen if k in row)
        yield row, where
    missing = [c for c in columns if c not in seen]
    if missing:
        raise InputError(path, "mapped column is a key of no record", field=missing[0])


# ------------------------------------------------------------- converting ----

def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _maybe_json(v: Any) -> Any:
    """CSV cells may hold a JSON list or object (as pandas writes them)."""
    if isinstance(v, str) and v.strip()[:1] in ("[", "{"):
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    return v


class _RowError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _get(row: dict, col: str, *, required: bool = True) -> Any:
    if col not in row or (required and _blank(row[col])):
        if required:
            raise _RowError(col, "missing field" if col not in row else "empty field")
        return None
    return row[col]


def _options(row: dict, fm: FieldMap) -> dict[str, str]:
    if fm.option_values is not None:
        return dict(zip(letters_for(len(fm.option_values)), fm.option_values, strict=True))
    if fm.options is None:
        return {}
    if isinstance(fm.options, list):
        texts = [row.get(c) for c in fm.options]
        for c in fm.options:
            if c not in row:
                raise _RowError(c, "missing field")
        while texts and _blank(texts[-1]):  # rows with fewer options leave the last columns empty
            texts.pop()
        return {k: "" if t is None else _scalar(t, c)
                for k, t, c in zip(letters_for(len(texts)), texts, fm.options, strict=False)}
    value = _maybe_json(_get(row, fm.options, required=False))
    if fm.options not in row:
        raise _RowError(fm.options, "missing field")
    if _blank(value) or (hasattr(value, "__len__") and len(value) == 0):
        return {}  # an open question among choice ones
    if isinstance(value, dict):
        keys = [str(k).strip().upper() for k in value]
        if all(len(k) == 1 and k.isalpha() for k in keys) and len(set(keys)) == len(keys):
            return dict(sorted((k, str(v)) for k, v in zip(keys, value.values(), strict=True)))
        value = list(value.values())
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        raise _RowError(fm.options, f"options must be a list or a letter->text object, got {type(value).__name__}")
    return {k: _scalar(t, fm.options) for k, t in zip(letters_for(len(value)), value, strict=True)}


def _scalar(value: Any, col: str | None) -> str:
    # str() of an object or of NaN would store "{'x': 1}" or "nan" as if it were the text.
    if isinstance(value, dict):
        raise _RowError(col or "?", "an object where text is expected")
    if isinstance(value, float) and math.isnan(value):
        raise _RowError(col or "?", "NaN where text is expected")
    return str(value)


def _text(value: Any, col: str | None = None) -> str:
    """A cell as text: a list (JSON, Parquet or a JSON list in a CSV cell) is its items, one per line."""
    value = _maybe_json(value) if isinstance(value, str) and value.lstrip()[:1] == "[" else value
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return "\n".join(_scalar(x, col) for x in value if not _blank(x))
    return _scalar(value, col)


def _answer_items(value: Any, *, split: bool) -> list[Any]:
    value = _maybe_json(value)
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str) and split:
        return [s for s in _SPLIT_ANSWER.split(value.strip()) if s]
    return [value]


def _answer(value: Any, options: dict[str, str], fm: FieldMap) -> list[str] | str:
    if not options:
        return _text(value).strip()
    letters = list(options)
    col = fm.answer
    if fm.answer_as == "letter":
        return [str(a).strip().upper() for a in _answer_items(value, split=True)]
    if fm.answer_as in ("index", "index1"):
        base = 0 if fm.answer_as == "index" else 1
        out = []
        for a in _answer_items(value, split=True):
            try:
                i = int(str(a).strip()) - base
            except ValueError:
                raise _RowError(col, f"answer {a!r} is not an integer index") from None
            if not 0 <= i < len(letters):
                raise _RowError(col, f"answer index {a} is out of range for {len(letters)} options "
                                     f"({'0' if base == 0 else '1'}-based)")
            out.append(letters[i])
        return out
    # Compared as `textnorm.match_key`s: an NFD accent, a no-break space or an entity prints the same text.
    by_key: dict[str, list[str]] = {}
    for k, t in options.items():
        by_key.setdefault(match_key(t), []).append(k)
    out = []
    for a in _answer_items(value, split=False):
        a = str(a).strip()
        found = by_key.get(match_key(a), [])
        if not found:
            raise _RowError(col, f"answer text {a[:60]!r} matches no option")
        if len(found) > 1:
            raise _RowError(col, f"answer text {a[:60]!r} matches options {' and '.join(found)}, which share it: "
                                 "the gold is ambiguous (map an index or letter column instead)")
        out.append(found[0])
    return out


def _check_answer_text(text: Any, options: dict[str, str], answer: list[str], col: str) -> None:
    """The gold given twice, as letters and as text: they must name the same option(s)."""
    expected = match_key(" ; ".join(options[a] for a in answer))
    given = match_key(_text(text))
    if given == expected or (len(answer) > 1 and {match_key(x) for x in re.split(r"\s*;\s*", _text(text))}
                                                 == {match_key(options[a]) for a in answer}):
        return
    same = [k for k, t in options.items() if match_key(t) == given]
    it = f"option {' and '.join(same)}'s text" if same else "no option's text"
    raise _RowError(col, f"answer text {_text(text)[:60]!r} contradicts the answer {', '.join(answer)} "
                         f"({' ; '.join(options[a] for a in answer)[:60]!r}): it is {it}")


def _task(row: dict, fm: FieldMap, options: dict, answer: Any) -> Task:
    if fm.task in TASK_VALUES:
        return Task(fm.task)
    if fm.task:
        value = str(_get(row, fm.task)).strip().lower()
        if value not in TASK_VALUES:
            raise _RowError(fm.task, f"task {value!r} is not one of mcqu, mcq, oeq")
        return Task(value)
    if not options:
        return Task.OEQ
    return Task.MCQU if len(answer) == 1 else Task.MCQ


def _record_fields(row: dict, fm: FieldMap, defaults: dict[str, Any], n: int) -> dict[str, Any]:
    options = _options(row, fm)
    raw_answer = _get(row, fm.answer)
    if (not options and fm.options is not None and fm.answer_as != "text" and fm.task not in ("oeq",)
            and _LETTER_ANSWER.match(str(raw_answer))):
        raise _RowError(fm.answer, f"the answer {str(raw_answer).strip()!r} names options but the row's options "
                                   "are empty (it would become an open question answering a letter)")
    answer = _answer(raw_answer, options, fm)
    if fm.answer_text and options:
        _check_answer_text(_get(row, fm.answer_text), options, answer, fm.answer_text)
    fields: dict[str, Any] = {
        "task": _task(row, fm, options, answer), "question": _text(_get(row, fm.question), fm.question),
        "options": options, "answer": _text(answer) if isinstance(answer, str) else answer,
    }
    for key in ("context", "instruction", "parent_id", "origin", "source", "split", "lang"):
        col = getattr(fm, key)
        value = _get(row, col, required=False) if col else None
        fields[key] = _text(value, col) if not _blank(value) else defaults.get(key)
    if fm.id:
        fields["id"] = str(_get(row, fm.id))
    elif not _blank(row.get("id")):
        fields["id"] = str(row["id"])  # a JSON object keyed by id
    else:
        fields["id"] = f"{fields['source']}-{fields['split']}-{n}"
    if fields["origin"] is None:
        raise _RowError("origin", "no origin: give --origin or map an origin column")
    fields["meta"] = {c: row.get(c) for c in fm.meta if c in row}
    return {k: v for k, v in fields.items() if v is not None}


DEFAULT_LANG = "fr"
DETECT_ROWS = 50  # rows whose text decides the language of a file given without --lang
DETECT_MIN_CHARS = 40


def detect_file_language(texts: list[str]) -> str | None:
    """The language of these texts by py3langid (among the languages curation considers), None if too short."""
    text = "\n".join(texts)
    if len(text) < DETECT_MIN_CHARS:
        return None
    from ..curate.language import identifier
    from ..curate.settings import CurateSettings

    languages = tuple(sorted(set(CurateSettings().languages) | {DEFAULT_LANG}))
    return identifier(languages).classify(text)[0]


def read_generic(path: Path, *, mapping: FieldMap | dict | str | Path | None = None, origin: Origin | None = None,
                 split: str = "train", source: str | None = None, lang: str | None = None, **_) -> Iterator[Record]:
    """Records from a JSON (list or object keyed by id), JSONL, CSV/TSV or Parquet file, through `mapping`.

    Without `lang` (and no `lang` column), the language of the first rows is detected: anything but the default
    (`fr`) is an error naming the language found, so an English file is never labelled French silently.
    """
    path = Path(path)
    fm = load_mapping(mapping)  # checked before any file is touched
    defaults = {"origin": origin, "split": split, "source": source or path.stem, "lang": lang or DEFAULT_LANG}
    detect = lang is None and fm.lang is None

    def check_language(sample: list[Record]) -> None:
        texts = [" ".join([r.question, *r.options.values(), *([] if r.is_choice else [str(r.answer)])])
                 for r in sample]
        found = detect_file_language(texts)
        if found is not None and found != DEFAULT_LANG:
            raise InputError(path, f"the text reads as {found!r} (py3langid, first {len(sample)} row(s)), not the "
                             f"default {DEFAULT_LANG!r}: give --lang {found} (or --lang {DEFAULT_LANG} to keep it)",
                             field="lang")

    def records() -> Iterator[Record]:
        pending: list[Record] = []
        detecting = detect
        for n, (row, where) in enumerate(_rows(path, fm.columns()), start=1):
            try:
                fields = _record_fields(row, fm, defaults, n)
            except _RowError as e:
                rid = row.get(fm.id or "id")
                place = where if "record" in where or _blank(rid) else {**where, "record": str(rid)}
                raise InputError(path, str(e), field=e.field, **place) from None
            record = parse_model(Record, fields, path, **where)
            if not detecting:
                yield record
                continue
            pending.append(record)
            if len(pending) == DETECT_ROWS:
                check_language(pending)
                yield from pending
                pending, detecting = [], False
        if pending:
            check_language(pending)
            yield from pending

    return records()
