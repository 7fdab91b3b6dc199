"""Blind rating in Argilla or Label Studio: tasks out (`annotate export --to`), ratings back (`import --from`).

The tools see what the rating app shows and nothing more: question, reference and candidate answer, under an
opaque unit id; systems and item ids stay in `key.csv`, which the organiser keeps. Each annotator gets a file
of their own, in their own order (`app.task_order`, the app's order), to load as their own dataset or project.
Ratings come back as rows of the ratings CSV (`store.COLUMNS`).

Formats (as the tools document them):
- Label Studio: tasks `[{"data": {...}}]` to import; its JSON export `[{"id", "data", "annotations": [{"result":
  [{"from_name", "to_name", "type", "value"}], "completed_by", "created_at", "updated_at", "was_cancelled"}]}]`.
  The labeling config (`label_config.xml`) asks for a `Number` (the scale) and a `TextArea` (the comment).
- Argilla (2.x): records as `Record.to_dict()` writes them, `[{"id", "fields", "metadata", "responses":
  {"score": [{"value", "user_id"}], "comment": [...]}, "suggestions", "vectors"}]` (`dataset.records.to_json`);
  `argilla_settings.json` describes the `rg.Settings` (three text fields, a rating and a text question).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..io import atomic_path, write_json, write_text
from .app import task_order
from .inputs import Answer
from .store import COLUMNS

TOOLS = ("argilla", "label-studio")
KEY_FILE = "key.csv"
FIELDS = ("question", "reference", "answer")
TITLES = {"question": "Question", "reference": "Réponse de référence", "answer": "Réponse candidate"}


def unit_id(item_id: str, system: str, salt: str) -> str:
    """Opaque and stable: the same answer gets the same unit in every annotator's file."""
    return "u-" + hashlib.sha256(f"{salt}\0{item_id}\0{system}".encode()).hexdigest()[:16]


def _label_config(scale: tuple[int, int]) -> str:
    lo, hi = scale
    return (f'<View>\n  <Header value="{TITLES["question"]}"/>\n  <Text name="question" value="$question"/>\n'
            f'  <Header value="{TITLES["reference"]}"/>\n  <Text name="reference" value="$reference"/>\n'
            f'  <Header value="{TITLES["answer"]}"/>\n  <Text name="answer" value="$answer"/>\n'
            f'  <Header value="Note ({lo} à {hi})"/>\n'
            f'  <Number name="score" toName="answer" min="{lo}" max="{hi}" required="true"/>\n'
            f'  <TextArea name="comment" toName="answer" placeholder="Commentaire (facultatif)" rows="3"/>\n'
            '</View>\n')


def _argilla_settings(scale: tuple[int, int]) -> dict[str, Any]:
    lo, hi = scale
    return {
        "guidelines": f"Notez la réponse candidate de {lo} à {hi} par rapport à la réponse de référence.",
        "fields": [{"name": f, "title": TITLES[f], "type": "text", "required": True} for f in FIELDS],
        "questions": [
            {"name": "score", "title": f"Note ({lo} à {hi})", "type": "rating", "values": list(range(lo, hi + 1)),
             "required": True},
            {"name": "comment", "title": "Commentaire", "type": "text", "required": False},
        ],
        "metadata": [{"name": "annotator", "type": "terms"}, {"name": "position", "type": "integer"}],
    }


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "annotator"


def export_tasks(answers: Sequence[Answer], annotators: Sequence[str], tool: str, out: str | Path, *,
                 scale: tuple[int, int]) -> dict[str, int]:
    """Write one task file per annotator, the tool's settings, and key.csv into `out`; returns tasks per file."""
    if tool not in TOOLS:
        raise MedinjectError(f"unknown tool {tool!r}; choose {' or '.join(TOOLS)}")
    if not annotators:
        raise MedinjectError("no annotators given")
    out = Path(out)
    by_key = {a.key: a for a in answers}
    salt = hashlib.sha256("\0".join(sorted(f"{i}\0{s}" for i, s in by_key)).encode()).hexdigest()[:8]
    units = {k: unit_id(*k, salt) for k in by_key}
    written: dict[str, int] = {}
    for name in annotators:
        items = []
        for pos, key in enumerate(task_order(answers, name)):
            a = by_key[key]
            fields = {"question": a.question, "reference": a.reference, "answer": a.prediction}
            if tool == "label-studio":
                items.append({"data": {"unit": units[key], **fields, "annotator": name, "position": pos}})
            else:
                items.append({"id": f"{units[key]}-{_safe_name(name)}", "fields": fields,
                              "metadata": {"annotator": name, "position": pos, "unit": units[key]},
                              "suggestions": {}, "responses": {}, "vectors": {}})
        fname = f"{_safe_name(name)}.{'tasks' if tool == 'label-studio' else 'records'}.json"
        write_json(out / fname, items)
        written[fname] = len(items)
    if tool == "label-studio":
        write_text(out / "label_config.xml", _label_config(scale))
    else:
        write_json(out / "argilla_settings.json", _argilla_settings(scale))
    with atomic_path(out / KEY_FILE) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["unit", "item_id", "system"])
        w.writerows([u, i, s] for (i, s), u in sorted(units.items(), key=lambda kv: kv[1]))
    return written


def read_key(path: str | Path) -> dict[str, tuple[str, str]]:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found (the key.csv written by `annotate export --to`)")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"unit", "item_id", "system"} <= set(reader.fieldnames or []):
            raise InputError(path, "columns unit, item_id and system are required", line=1)
        return {r["unit"]: (r["item_id"], r["system"]) for r in reader}


def _read_json_list(path: Path) -> list:
    from ..io import read_json

    data = read_json(path)
    if not isinstance(data, list):
        raise InputError(path, f"expected a JSON list of exported items, got {type(data).__name__}")
    return data


def _score(value: Any, path: Path, where: str) -> int:
    if isinstance(value, list) and len(value) == 1:  # a Choices answer comes as ["7"]
        value = value[0]
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InputError(path, f"score {value!r} is not a number", record=where, field="score") from None
    if f != int(f):
        raise InputError(path, f"score {value!r} is not an integer", record=where, field="score")
    return int(f)


def _who(default: str | None, user: Any, users: dict[str, str] | None, path: Path, where: str) -> str:
    if users:
        name = users.get(str(user))
        if name is None:
            raise InputError(path, f"user {user!r} is not in the --users file", record=where)
        return name
    if not default:
        raise InputError(path, "no annotator name in the item (give --users to map tool users to names)",
                         record=where)
    return default


def _ratings_from_label_studio(path: Path, key: dict[str, tuple[str, str]],
                               users: dict[str, str] | None) -> list[dict]:
    rows = []
    for n, task in enumerate(_read_json_list(path), start=1):
        data = task.get("data") or {}
        unit = data.get("unit")
        where = str(task.get("id", f"#{n}"))
        if unit not in key:
            raise InputError(path, f"unit {unit!r} is not in the key file", record=where, field="data.unit")
        item_id, system = key[unit]
        for ann in task.get("annotations") or []:
            if ann.get("was_cancelled"):
                continue
            score, comment = None, ""
            for res in ann.get("result") or []:
                value = res.get("value") or {}
                if res.get("from_name") == "score":
                    raw = next((value[k] for k in ("number", "rating", "choices") if k in value), None)
                    score = _score(raw, path, where)
                elif res.get("from_name") == "comment":
                    text = value.get("text")
                    comment = "\n".join(text) if isinstance(text, list) else str(text or "")
            if score is None:
                continue  # an annotation saved without a score: nothing to import
            by = ann.get("completed_by")
            user = by.get("email", by.get("id")) if isinstance(by, dict) else by
            rows.append({"annotator": _who(data.get("annotator"), user, users, path, where), "item_id": item_id,
                         "system": system, "score": score, "comment": comment,
                         "created_at": ann.get("created_at") or "", "updated_at": ann.get("updated_at") or ""})
    return rows


def _ratings_from_argilla(path: Path, key: dict[str, tuple[str, str]],
                          users: dict[str, str] | None) -> list[dict]:
    rows = []
    for n, rec in enumerate(_read_json_list(path), start=1):
        meta = rec.get("metadata") or {}
        where = str(rec.get("id") or f"#{n}")
        unit = meta.get("unit")
        if unit not in key:
            raise InputError(path, f"unit {unit!r} is not in the key file", record=where, field="metadata.unit")
        item_id, system = key[unit]
        responses = rec.get("responses") or {}
        comments = {str(r.get("user_id")): str(r.get("value") or "") for r in responses.get("comment") or []}
        scores = responses.get("score") or []
        if not users and len({str(r.get("user_id")) for r in scores}) > 1:
            raise InputError(path, "several users rated this record; give --users to name them", record=where)
        for r in scores:
            if r.get("value") is None:
                continue
            user = str(r.get("user_id"))
            rows.append({"annotator": _who(meta.get("annotator"), user, users, path, where), "item_id": item_id,
                         "system": system, "score": _score(r["value"], path, where),
                         "comment": comments.get(user, ""), "created_at": "", "updated_at": ""})
    return rows


def read_users(path: str | Path | None) -> dict[str, str] | None:
    """Tool user (Label Studio id or e-mail, Argilla user id) -> annotator name, from YAML or CSV (user, name)."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() == ".csv":
        if not path.exists():
            raise InputError(path, "file not found")
        with open(path, newline="", encoding="utf-8") as f:
            return {r["user"]: r["name"] for r in csv.DictReader(f)}
    from ..io import read_yaml

    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping of tool user: annotator name")
    return {str(k): str(v) for k, v in data.items()}


def import_ratings(files: Sequence[str | Path], tool: str, key_path: str | Path, *,
                   users: dict[str, str] | None = None) -> list[dict]:
    """Ratings CSV rows from the tool's export files; the last rating of an annotator for one answer wins."""
    if tool not in TOOLS:
        raise MedinjectError(f"unknown tool {tool!r}; choose {' or '.join(TOOLS)}")
    key = read_key(key_path)
    read = _ratings_from_label_studio if tool == "label-studio" else _ratings_from_argilla
    latest: dict[tuple[str, str, str], dict] = {}
    for f in files:
        for row in read(Path(f), key, users):
            k = (row["annotator"], row["item_id"], row["system"])
            if k not in latest or (row["updated_at"] or "") >= (latest[k]["updated_at"] or ""):
                latest[k] = row
    return [latest[k] for k in sorted(latest)]


def write_ratings_csv(path: str | Path, rows: Sequence[dict]) -> int:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return len(rows)

