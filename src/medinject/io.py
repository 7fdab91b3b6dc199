"""Record files (JSONL, Parquet), `datasets` conversion, atomic writes and hashes."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InputError, MedinjectError, first_validation_problem
from .records import Passage, Record

M = TypeVar("M", bound=BaseModel)

# mkstemp makes owner-only files; written outputs should get the usual permissions, as `open` would give.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: not ours to judge
    return True


def _writer_tag() -> str:
    """`pid@host` (host without dots): on a shared file system, only this machine's writers are judged."""
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
    return f"{os.getpid()}@{host}"


def remove_stale_temps(folder: str | Path, prefix: str, suffix: str) -> list[Path]:
    """Remove `{prefix}{pid}@{host}.*{suffix}` files in `folder` written by a process of this machine that is
    gone (killed mid-write)."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    host = _writer_tag().partition("@")[2]
    for p in folder.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        pid, _, where = p.name[len(prefix):].partition(".")[0].partition("@")
        if where == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def temp_beside(path: Path, suffix: str = ".tmp") -> Path:
    """A new empty file beside `path`, named after its writer so that a later run can tell it is stale."""
    prefix = f".{path.name}."
    remove_stale_temps(path.parent, prefix, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{_writer_tag()}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds.

    A writer killed mid-block leaves its temporary file; the next write to the same path removes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = temp_beside(path)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def require_new_folder(path: str | Path) -> None:
    """One line, before any work, when `path` is a file or a folder that holds anything: never write into it."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise MedinjectError(f"{path}: folder exists and is not empty; give a new one")


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a new temporary folder beside `path`; it becomes `path` (which must be absent or empty) only if the
    block succeeds, so a failed export never leaves a half-written folder."""
    path = Path(path)
    require_new_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{_writer_tag()}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp's folder is owner-only; an export is an ordinary folder
        for f in tmp.rglob("*"):  # so are the files some writers make through a temporary file (safetensors)
            if f.is_file() and not f.is_symlink() and not f.stat().st_mode & 0o077:
                os.chmod(f, 0o666 & ~_UMASK)
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:  # a hard link, or two spellings the resolver cannot see through (case-insensitive file systems)
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwrite(inputs: Iterable[str | Path | None], outputs: Iterable[str | Path | None]) -> None:
    """Refuse, before anything is read or written, an output that is an input, holds one or lies inside one.

    Every verb that reads and writes files calls this first, so that a mistyped `-o` can never replace
    the data it was meant to read. Two outputs that are the same path are refused too.
    """
    ins = [(p, Path(p).expanduser().resolve()) for p in inputs if p is not None and str(p) != ""]
    outs = [(p, Path(p).expanduser().resolve()) for p in outputs if p is not None and str(p) != ""]
    for raw_out, out in outs:
        for raw_in, inp in ins:
            if _same(out, inp):
                how = "is"
            elif inp.is_relative_to(out):
                how = "contains"
            elif out.is_relative_to(inp):
                how = "lies inside"
            else:
                continue
            raise MedinjectError(f"output {raw_out} {how} the input {raw_in}: choose another output path")
    for i, (raw_a, a) in enumerate(outs):
        for raw_b, b in outs[i + 1:]:
            if _same(a, b):
                raise MedinjectError(f"outputs {raw_a} and {raw_b} are the same path: choose two different ones")
    for _, out in outs:
        _note_new(out)


# Output paths (and the folders above them) that did not exist when the verb started: after a refused
# input, `discard_new_outputs` removes those that hold nothing.
_NEW_OUTPUTS: list[Path] = []
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def _note_new(path: Path) -> None:
    while not path.exists() and path != path.parent:
        _NEW_OUTPUTS.append(path)
        path = path.parent


def _empty_sqlite(path: Path) -> bool:
    import sqlite3

    try:
        with open(path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                return False
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            # A settings table (the rating store's scale) is no content.
            return all(db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] == 0 for t in tables if t != "meta")
        finally:
            db.close()
    except (OSError, sqlite3.Error):
        return False


def forget_new_outputs() -> None:
    _NEW_OUTPUTS.clear()


def discard_new_outputs() -> list[Path]:
    """After a refused input: remove what the verb created at or above its outputs that holds nothing (empty
    folders, empty files, databases without a row, and their SQLite sidecars). Never removes data."""
    removed = []
    for p in sorted(set(_NEW_OUTPUTS), key=lambda q: len(q.parts), reverse=True):  # deepest first
        if p.is_file() and (p.stat().st_size == 0 or _empty_sqlite(p)):
            for extra in (p, *(p.with_name(p.name + s) for s in _SQLITE_SIDECARS)):
                if extra.exists():
                    extra.unlink()
                    removed.append(extra)
        elif p.is_dir():
            for d in sorted((d for d in p.rglob("*") if d.is_dir()), key=lambda q: len(q.parts), reverse=True):
                with contextlib.suppress(OSError):
                    d.rmdir()  # only when empty
            with contextlib.suppress(OSError):
                p.rmdir()
                removed.append(p)
    _NEW_OUTPUTS.clear()
    return removed


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


def read_text(path: str | Path, what: str = "file") -> str:
    """A UTF-8 text file's content; a missing or undecodable file raises InputError naming it."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"{what} is not UTF-8 text (byte {e.start})") from None


def read_yaml(path: str | Path, *, strings: bool = False) -> Any:
    """A YAML file's content; a missing file or bad YAML raises InputError naming the line.

    `strings`: every scalar is read as written (`yes`, `no`, `1.0` stay text), for files of names and labels.
    """
    import yaml

    path = Path(path)
    text = read_text(path)
    try:
        return yaml.load(text, Loader=yaml.BaseLoader) if strings else yaml.safe_load(text)
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


def _drop_nulls(obj):
    # An inferred Arrow struct gives every row every key seen in the file, with null where a row had none.
    if isinstance(obj, dict):
        return {k: _drop_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_nulls(v) for v in obj]
    return obj


def _dataset_rows(ds, split: str | None) -> Iterator[dict]:
    features = getattr(ds, "features", None) or {}
    # Columns inferred as structs (not as `Json` or our list-of-pairs) carry nulls for absent keys.
    structs = [c for c in ("options", "meta") if isinstance(features.get(c), dict)]
    for row in ds:
        row = dict(row)
        for c in structs:
            if isinstance(row.get(c), dict):
                row[c] = _drop_nulls(row[c])
        if row.get("split") is None and split is not None:
            row["split"] = split
        yield row


def from_dataset(ds) -> list[Record]:
    """Records from a `datasets.Dataset` or `DatasetDict` (every split, in order).

    Reads our own schema (`to_dataset`, `export --to hf`) and the one `load_dataset("json")` infers from a
    records file. A row's own `split` wins; the DatasetDict's split name fills it when the row has none.
    """
    if hasattr(ds, "keys") and not hasattr(ds, "features"):  # a DatasetDict (or any mapping of splits)
        return [r for name in ds for r in _from_rows(_dataset_rows(ds[name], name))]
    return _from_rows(_dataset_rows(ds, None))


def _from_rows(rows: Iterable[dict]) -> list[Record]:
    return [parse_model(Record, _row_record(row), None, record=str(row.get("id") or f"#{i + 1}"))
            for i, row in enumerate(rows)]


def to_dataset_dict(records: Iterable[Record]):
    """A `datasets.DatasetDict` with one split per distinct `split` value, in order of first appearance."""
    import datasets

    by_split: dict[str, list[Record]] = {}
    for r in records:
        by_split.setdefault(r.split, []).append(r)
    return datasets.DatasetDict({name: to_dataset(rs) for name, rs in by_split.items()})


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
