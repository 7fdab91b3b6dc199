"""The published MedInjection-FR layouts, read into records.

(a) Component sets (Native, Translated, Synthetic): JSON files laid out `Train|Validation|Test/{mcq,mcqu,oeq}/
<name>.json`, each a list of `{"messages": [user, assistant], "classes": [...], "answer": "..."}`. Split and
task come from the folders (or the file name), the data set name (`source`) from the file name, the origin
from `--origin`, else from a folder named after a component set.
(b) The merged set (ALL): `data/{train,validation,test}-*.parquet` with string columns instruction, context,
answer, type, origin.

Every record keeps its source prompt verbatim in `meta.messages` (for the merged layout: one user turn made of
the context, a blank line and the instruction, or the instruction alone, then the answer as the assistant turn),
so that `paper` evaluation can send exactly that. A multiple-choice item whose options cannot be read from its
prompt is still imported: its options are its letters (`{"A": "A", ...}`), `meta.options_parsed` is false and
`meta.options_problem` says why; `stats["options_unparsed"]` counts them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..io import parse_model, read_json
from ..records import LETTERS, Origin, Record, Task
from ..textnorm import decode_entities
from .exchange import iter_rows
from .rendered import split_options

# Spellings of the task in use: ours, the French exam ones, and long forms (compared without case or spacing).
_TASKS = {
    Task.MCQ: ("mcq", "qcm", "multiple choice", "multiple choice question", "multiple choice questions",
               "multiple answer", "multiple answers", "question à choix multiples", "questions à choix multiples",
               "choix multiples", "multi"),
    Task.MCQU: ("mcqu", "qcmu", "qcu", "single choice", "single answer", "multiple choice unique",
                "multiple choice question unique", "unique choice", "question à choix unique",
                "question à réponse unique", "questions à choix unique", "choix unique"),
    Task.OEQ: ("oeq", "qro", "open", "open ended", "open ended question", "open ended questions", "open question",
               "question à réponse ouverte", "questions à réponse ouverte", "question ouverte", "réponse ouverte"),
}
_TASK_BY_NAME = {name: task for task, names in _TASKS.items() for name in names}
_SPLITS = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
           "val": "validation", "dev": "validation", "test": "test"}
_ORIGINS = {"native": Origin.NATIVE, "natif": Origin.NATIVE, "translated": Origin.TRANSLATED,
            "traduit": Origin.TRANSLATED, "translation": Origin.TRANSLATED, "synthetic": Origin.SYNTHETIC,
            "synthétique": Origin.SYNTHETIC, "synthetique": Origin.SYNTHETIC}
_SUFFIXES = (".json", ".jsonl", ".parquet")


def _key(value: Any) -> str:
    return re.sub(r"[\s_\-]+", " ", str(value).strip().lower())


def task_value(value: Any) -> Task:
    """`mcq`, `MCQU`, `qcm`, `QRO`, `Open-ended`... as a task; ValueError naming the field otherwise."""
    task = _TASK_BY_NAME.get(_key(value))
    if task is None:
        raise ValueError(f"type: {value!r} is not a known task (mcq, mcqu, oeq, qcm, qcmu, qro or a long form)")
    return task


def origin_value(value: Any) -> Origin:
    origin = _ORIGINS.get(_key(value))
    if origin is None:
        raise ValueError(f"origin: {value!r} is not one of native, translated, synthetic")
    return origin


def gold_letters(value: Any) -> list[str]:
    """`"A, C"`, `"A C"`, `"A,C"`, `["A", "C"]` -> ["A", "C"]."""
    parts = value if isinstance(value, list) else [value]
    return [x.upper() for p in parts for x in re.split(r"[,\s]+", str(p)) if x]


def _from_path(parts: list[str], table: dict) -> Any:
    """The last path part that names an entry of `table`, else a word of the file name that does."""
    stems = [part.rsplit(".", 1)[0] if part.lower().endswith(_SUFFIXES) else part for part in parts]
    for stem in reversed(stems):
        if _key(stem) in table:
            return table[_key(stem)]
    for token in reversed(re.split(r"[\s_\-.]+", stems[-1].lower()) if stems else []):
        if token in table:
            return table[token]
    return None


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix.lower() in _SUFFIXES
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    if not files:
        raise InputError(root, "no .json, .jsonl or .parquet file in this folder")
    return files


def _looks_like_hub_id(text: str) -> bool:
    return bool(re.fullmatch(r"[\w.\-]+/[\w.\-]+", text)) and not text.startswith((".", "/"))


def download(repo_id: str) -> Path:
    """A local copy of a hub data set repository, through the hub client that `datasets` uses."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise MedinjectError("reading a hub id needs datasets: pip install datasets") from None
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        return Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=["*.json", "*.jsonl",
                                                                                     "*.parquet"]))
    except Exception as e:  # offline, unknown repository, gated set: one line, whatever the hub client raises
        why = "offline (HF_HUB_OFFLINE=1) and not in the local cache" if offline else str(e).splitlines()[0]
        raise MedinjectError(f"cannot fetch the hub data set {repo_id!r}: {why}") from None


def _messages(item: dict) -> list[dict]:
    msgs = item.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in msgs):
        raise ValueError("messages: expected a list of {role, content} objects")
    return msgs


def _choice_fields(text: str, classes: list[str], gold: list[str]) -> dict[str, Any]:
    """question and options from a rendered prompt; the item is kept, marked, when they cannot be read."""
    try:
        question, options, after = split_options(text, classes)
        meta = {"options_parsed": True}
        if after:
            meta["after_options"] = after
        return {"question": decode_entities(question),
                "options": {k: decode_entities(v) for k, v in options.items()}, "meta": meta}
    except ValueError as e:
        letters = [str(c).strip().upper() for c in classes]
        if not letters:
            last = max((LETTERS.index(g) for g in gold if g in LETTERS), default=1)
            letters = list(LETTERS[:max(last + 1, 2)])
        return {"question": decode_entities(text), "options": {x: x for x in letters},
                "meta": {"options_parsed": False, "options_problem": str(e)}}


def component_fields(item: dict, task: Task | None) -> dict[str, Any]:
    """Record fields (no id, split, origin, source) from one component-set item."""
    messages = _messages(item)
    # The published items have one user turn; with several, the question is the last one before the answer.
    users = [m["content"] for m in messages if m["role"] == "user"]
    if not users:
        raise ValueError("messages: no user message")
    user = users[-1]
    reply = next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), None)
    classes = item.get("classes") or []
    if not isinstance(classes, list):
        raise ValueError("classes: expected a list of letters")
    if item.get("type"):
        task = task_value(item["type"])
    if task is None:
        if classes:
            raise ValueError("classes: cannot tell mcq from mcqu; put the file under an mcq/ or mcqu/ folder")
        task = Task.OEQ
    raw = item.get("answer")
    if raw in (None, "", []):
        raw = reply
    if raw in (None, "", []):
        raise ValueError("answer: empty, and no assistant message to take it from")
    meta: dict[str, Any] = {"messages": messages}
    if task is Task.OEQ:
        fields = {"question": decode_entities(user), "answer": decode_entities(str(raw))}
    else:
        gold = gold_letters(raw)
        fields = {"answer": gold, **_choice_fields(user, classes, gold)}
        meta.update(fields.pop("meta"), classes=classes, answer_raw=raw)
    return {"task": task, **fields, "meta": meta}


def merged_fields(row: dict) -> dict[str, Any]:
    """Record fields (no id, split, source) from one merged-layout row."""
    task = task_value(row.get("type", ""))
    instruction = row.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError("instruction: empty or missing")
    context = row.get("context") or ""
    answer = row.get("answer")
    if answer in (None, ""):
        raise ValueError("answer: empty or missing")
    user = f"{context}\n\n{instruction}" if context.strip() else instruction
    meta: dict[str, Any] = {"messages": [{"role": "user", "content": user},
                                         {"role": "assistant", "content": str(answer)}]}
    if task is Task.OEQ:
        fields = {"question": decode_entities(instruction), "answer": decode_entities(str(answer))}
    else:
        gold = gold_letters(answer)
        fields = {"answer": gold, **_choice_fields(instruction, [], gold)}
        meta.update(fields.pop("meta"))
    fields["context"] = decode_entities(context) or None
    if row.get("origin"):
        fields["origin"] = origin_value(row["origin"])
    return {"task": task, **fields, "meta": meta}


def _stored_record(row: dict) -> dict | None:
    """The full record that `medinject export --to medinjection` stores beside the published fields."""
    stored = row.get("medinject_record")
    if isinstance(stored, str) and stored:
        stored = json.loads(stored)
    return stored if isinstance(stored, dict) else None


def read_medinjection(path: Path, *, origin: Origin | None = None, split: str | None = None,
                      source: str | None = None, lang: str = "fr", stats: dict | None = None, **_
                      ) -> Iterator[Record]:
    """Records from a component-set folder tree, a merged Parquet folder, one such file, or a hub id.

    The split of a file comes from its folders (`Train`, `Validation`, `Test`) or name
    (`test-00000-of-00001.parquet`). `split` given selects: files of another split are skipped, and files
    without a split in their path take it; without `split`, every file is read (unnamed ones as train).
    `stats` (when given) receives `options_unparsed`, the count of items kept with unread options.
    """
    path = Path(path)
    root = path
    if not path.exists():
        if not _looks_like_hub_id(str(path)):
            raise InputError(path, "file or folder not found")
        root = download(str(path))
    set_origin = origin or _from_path(list(Path(str(path)).parts), _ORIGINS)
    stats = stats if stats is not None else {}
    stats.setdefault("options_unparsed", 0)
    counters: dict[tuple, int] = {}
    files = list(_files(root))
    if root.is_dir():
        merged_dirs = {f.relative_to(root).parts[0] for f in files if f.suffix.lower() == ".parquet"
                       and len(f.relative_to(root).parts) > 1 and f.relative_to(root).parts[0].upper() == "ALL"}
        components = [f for f in files if f.suffix.lower() == ".json"]
        if merged_dirs and components:  # what `export --to medinjection` writes: the same items twice
            merged_dir, component_dir = root / sorted(merged_dirs)[0], root / components[0].relative_to(root).parts[0]
            raise InputError(root, f"holds both the component sets and the merged set {merged_dir.name}/ (the same "
                                   f"items twice): give one of them, e.g. {merged_dir} or {component_dir}")
    for f in files:
        parts = list(f.relative_to(root).parts) if f != root else [f.name]
        file_split = _from_path(parts, _SPLITS)
        if split is not None and file_split not in (None, _SPLITS.get(split.lower(), split)):
            continue
        file_split = file_split or split or "train"
        file_task = _from_path(parts, _TASK_BY_NAME)
        file_origin = set_origin or _from_path(parts, _ORIGINS)
        rows = _component_rows(f) if f.suffix.lower() == ".json" else iter_rows(f)
        for row, where in rows:
            stored = _stored_record(row)
            if stored is not None:
                yield parse_model(Record, stored, f, **where)
                continue
            try:
                merged = "instruction" in row or ("messages" not in row and "type" in row)
                fields = merged_fields(row) if merged else component_fields(row, file_task)
                if origin is not None:
                    fields["origin"] = origin
                elif "origin" not in fields:
                    if file_origin is None:
                        raise ValueError("origin: unknown; give --origin (native, translated or synthetic)")
                    fields["origin"] = file_origin
            except ValueError as e:
                field, sep, msg = str(e).partition(": ")
                if sep and field.isidentifier():
                    raise InputError(f, msg, field=field, **where) from None
                raise InputError(f, str(e), **where) from None
            name = source or ("medinjection" if merged else f.stem)
            key = (name, file_split, fields["task"])
            counters[key] = counters.get(key, 0) + 1
            fields.update(id=f"{name}-{file_split}-{fields['task'].value}-{counters[key]}", source=name,
                          split=file_split, lang=lang)
            if fields["meta"].get("options_parsed") is False:
                stats["options_unparsed"] += 1
            yield parse_model(Record, fields, f, **where)


def _component_rows(path: Path) -> Iterator[tuple[dict, dict]]:
    """(item, where) of a component JSON file: a list of items, numbered from 1."""
    data = read_json(path)
    if not isinstance(data, list):
        yield from iter_rows(path)
        return
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise InputError(path, "expected a JSON object", record=f"#{i + 1}")
        yield row, {"record": f"#{i + 1}"}
