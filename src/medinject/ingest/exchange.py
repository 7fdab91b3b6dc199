"""The reference evaluation JSON in, and the row reader that the exchange layouts share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..io import iter_jsonl, parse_model, read_json
from ..prompts import from_reference_eval
from ..records import Origin, Record


def iter_rows(path: Path) -> Iterator[tuple[dict, dict]]:
    """(row, where) from a JSON list, a JSON object keyed by id, JSONL or Parquet file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        from ..io import iter_parquet

        i = 0
        for rows in iter_parquet(path, allow_empty=False):
            for row in rows:
                i += 1
                yield row, {"record": f"#{i}"}
    elif suffix == ".jsonl":
        for lineno, obj in iter_jsonl(path):
            yield obj, {"line": lineno}
    else:
        data = read_json(path)
        if isinstance(data, dict):
            data = [{"id": k, **v} if isinstance(v, dict) else v for k, v in data.items()]
        if not isinstance(data, list):
            raise InputError(path, f"expected a JSON list or object, got {type(data).__name__}")
        if not data:
            raise InputError(path, "empty file: no records")
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                raise InputError(path, "expected a JSON object", record=f"#{i + 1}")
            yield row, {"record": str(row.get("id") or f"#{i + 1}")}


def _convert(path, rows, convert, *, origin, split, source, lang) -> Iterator[Record]:
    n = 0
    for row, where in rows:
        defaults = {"split": split, "source": source, "lang": lang}
        if origin is not None:
            defaults["origin"] = origin
        try:
            fields = convert(row, defaults=defaults)
        except KeyError as e:
            raise InputError(path, "missing field", field=str(e.args[0]), **where) from None
        except ValueError as e:
            field, sep, msg = str(e).partition(": ")
            if sep and field.isidentifier():
                raise InputError(path, msg, field=field, **where) from None
            raise InputError(path, str(e), **where) from None
        n += 1
        fields.setdefault("id", f"{source}-{split}-{n}")
        yield parse_model(Record, fields, path, **where)


def read_reference_eval(path: Path, *, origin: Origin | None = None, split: str = "test",
                        source: str = "reference", lang: str = "fr", **_) -> Iterator[Record]:
    """The reference evaluation JSON (`messages`, `classes`, `answer`)."""
    return _convert(path, iter_rows(path), from_reference_eval, origin=origin, split=split, source=source,
                    lang=lang)
