"""Record files (JSONL, Parquet), `datasets` conversion, atomic writes and hashes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InputError, first_validation_problem
from .records import Passage, Record

M = TypeVar("M", bound=BaseModel)

# mkstemp makes owner-only files; written outputs should get the usual permissions, as `open` would give.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # tolerate a byte-order mark
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"malformed JSON: {e.msg} (column {e.colno})", line=e.lineno) from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content; a missing file or bad YAML raises InputError naming the line."""
    import yaml

    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(path, f"malformed YAML: {getattr(e, 'problem', e)}",
                         line=mark.line + 1 if mark else None) from None


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each distribution (None when absent), for manifests and summaries."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- JSONL ----

def iter_jsonl(path: str | Path, *, allow_empty: bool = False) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; bad lines raise InputError naming the line."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    seen = False
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise InputError(path, f"not UTF-8 text (byte {e.start})", line=lineno) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(path, f"malformed JSON: {e.msg} (column {e.colno})", line=lineno) from None
            if not isinstance(obj, dict):
                raise InputError(path, f"expected a JSON object, got {type(obj).__name__}", line=lineno)
            seen = True
            yield lineno, obj
    if not seen and not allow_empty:
        raise InputError(path, "empty file: no records")


def parse_model(model: type[M], obj: dict, path: str | Path | None, *, line: int | None = None,
                record: str | None = None) -> M:
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        field, msg = first_validation_problem(e)
        rec = record if record is not None else (str(obj.get("id")) if obj.get("id") else None)
        raise InputError(path, msg, line=line, record=rec, field=field) from None


def _dump(model: BaseModel) -> dict:
    return model.model_dump(mode="json")


def dumps_record(model: BaseModel) -> str:
    return json.dumps(_dump(model), ensure_ascii=False)


def write_jsonl(path: str | Path, rows: Iterable[BaseModel | dict]) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            obj = _dump(row) if isinstance(row, BaseModel) else row
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
            n += 1
    return n


# ---------------------------------------------------------------- Arrow ----

def _record_row(r: Record) -> dict:
    d = _dump(r)
    d["options"] = [{"letter": k, "text": v} for k, v in r.options.items()]
    d["answer"] = r.letters if r.is_choice else [r.answer]
    d["meta"] = json.dumps(r.meta, ensure_ascii=False, sort_keys=True)
    return d


def _row_record(row: dict) -> dict:
    row = dict(row)
    if isinstance(row.get("options"), list):
        row["options"] = {o["letter"]: o["text"] for o in row["options"]}
    if row.get("task") == "oeq" and isinstance(row.get("answer"), list):
        row["answer"] = row["answer"][0] if row["answer"] else ""
    if isinstance(row.get("meta"), str):
        row["meta"] = json.loads(row["meta"]) if row["meta"] else {}
    return row


def record_schema():
    import pyarrow as pa

    s = pa.string()
    return pa.schema([
        ("id", s), ("task", s), ("question", s),
        ("options", pa.list_(pa.struct([("letter", s), ("text", s)]))),
        ("answer", pa.list_(s)), ("context", s), ("instruction", s), ("origin", s),
        ("source", s), ("split", s), ("lang", s), ("parent_id", s), ("meta", s),
    ])


def records_to_table(records: Iterable[Record]):
    import pyarrow as pa

    return pa.Table.from_pylist([_record_row(r) for r in records], schema=record_schema())


def open_parquet(path: str | Path):
    """A `pyarrow.parquet.ParquetFile`; a missing or unreadable file is an InputError naming it."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        return pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises many types for corrupt files
        raise InputError(path, f"not a readable Parquet file ({e})") from None


def iter_parquet(path: str | Path, *, batch_size: int = 4096, allow_empty: bool = True) -> Iterator[list[dict]]:
    """The rows of a Parquet file as lists of dicts, one list per batch (memory stays flat on large files)."""
    pf = open_parquet(path)
    if pf.metadata.num_rows == 0 and not allow_empty:
        raise InputError(path, "empty file: no records")
    for batch in pf.iter_batches(batch_size=batch_size):
        yield batch.to_pylist()


def table_to_records(table, path: str | Path | None = None) -> Iterator[Record]:
    for i, row in enumerate(table.to_pylist()):
        yield parse_model(Record, _row_record(row), path, record=str(row.get("id") or f"#{i + 1}"))


def to_dataset(records: Iterable[Record]):
    """A `datasets.Dataset` with the fixed record schema (options keep their order)."""
    import datasets

    return datasets.Dataset(records_to_table(records))


def from_dataset(ds) -> list[Record]:
    return [parse_model(Record, _row_record(row), None, record=str(row.get("id"))) for row in ds]


# ---------------------------------------------------------- entry points ----

def read_records(path: str | Path, *, allow_empty: bool = False) -> Iterator[Record]:
    """Records from a .jsonl or .parquet file; the first bad one raises InputError naming its place."""
    path = Path(path)
    if path.suffix == ".parquet":
        i = 0
        for rows in iter_parquet(path, allow_empty=allow_empty):
            for row in rows:
                i += 1
                yield parse_model(Record, _row_record(row), path, record=str(row.get("id") or f"#{i}"))
        return
    for lineno, obj in iter_jsonl(path, allow_empty=allow_empty):
        yield parse_model(Record, obj, path, line=lineno)


def load_records(path: str | Path, **kw) -> list[Record]:
    return list(read_records(path, **kw))


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write atomically; the suffix (.jsonl or .parquet) picks the format. Returns the count."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = records_to_table(records)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return table.num_rows
    return write_jsonl(path, records)


def read_passages(path: str | Path) -> Iterator[Passage]:
    for lineno, obj in iter_jsonl(path):
        yield parse_model(Passage, obj, path, line=lineno)


def write_passages(path: str | Path, passages: Iterable[Passage]) -> int:
    return write_jsonl(path, passages)
