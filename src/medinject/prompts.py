"""Records to chat messages (three named prompt styles), answer formats, and the reference evaluation layout.

Every French word the model sees lives here, so a new language is one new table.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .records import Origin, Record, Task

PROMPT_VERSION = "fr-v1"

FR = {
    "system": "Vous êtes un assistant médical expert. Vous répondez en français, avec exactitude et concision.",
    "instruction": {
        Task.MCQU: "Répondez à la question à choix multiples suivante. Une seule réponse est correcte. "
                   "Répondez uniquement par la lettre de la bonne réponse.",
        Task.MCQ: "Répondez à la question à choix multiples suivante. Une ou plusieurs réponses sont correctes. "
                  "Répondez uniquement par les lettres des bonnes réponses, séparées par des virgules "
                  "(par exemple : A, C).",
        Task.OEQ: "Répondez à la question médicale suivante de manière précise et concise.",
    },
    "context": "Contexte :",
    "question": "Question :",
    "options": "Options :",
}

ANSWER_SEPARATOR = ", "

_CONTEXT_HEAD = FR["context"] + "\n"
_QUESTION_HEAD = FR["question"] + " "
_OPTIONS_HEAD = "\n\n" + FR["options"] + "\n"
_OPTION_LINE = re.compile(r"^([A-Z])\. (.*)$")


def format_answer(letters: list[str]) -> str:
    """The multi-answer format: letters separated by commas (`A, C`)."""
    return ANSWER_SEPARATOR.join(letters)


def assistant_text(record: Record) -> str:
    return format_answer(record.letters) if record.is_choice else str(record.answer)


def user_text(record: Record) -> str:
    parts = [record.instruction or FR["instruction"][record.task]]
    if record.context:
        parts.append(_CONTEXT_HEAD + record.context)
    body = _QUESTION_HEAD + record.question
    if record.is_choice:
        body += _OPTIONS_HEAD + "\n".join(f"{k}. {v}" for k, v in record.options.items())
    parts.append(body)
    return "\n\n".join(parts)


def to_messages(record: Record, *, with_answer: bool = True, system: bool = True) -> list[dict[str, str]]:
    """System, user and (for training) assistant messages for one record."""
    msgs = [{"role": "system", "content": FR["system"]}] if system else []
    msgs.append({"role": "user", "content": user_text(record)})
    if with_answer:
        msgs.append({"role": "assistant", "content": assistant_text(record)})
    return msgs


# ---------------------------------------------------------- prompt styles ----

# The authors' rendering of a multiple-choice item (their public example): the question, a
# `Choix de réponses :` line, then one `(A) text` line per option, in a single user turn with no system prompt.
AUTHORS_OPTIONS_HEAD = "Choix de réponses :"

PROMPT_STYLES = {
    "paper": "each record's own source messages without assistant turns when it has them (meta.messages), "
             "else the authors' rendering",
    "authors": "the authors' rendering: question, 'Choix de réponses :', '(A) text' lines; user turn only, "
               "no system prompt",
    "medinject-fr": f"medinject's French template ({PROMPT_VERSION}): system prompt, task instruction, "
                    "'Question :', 'Options :', 'A. text' lines",
}


def authors_user_text(record: Record) -> str:
    """The authors' rendering of one record (instruction and context, when the record has them, come first)."""
    body = record.question
    if record.is_choice:
        body += "\n" + AUTHORS_OPTIONS_HEAD + "\n" + "\n".join(f"({k}) {v}" for k, v in record.options.items())
    return "\n\n".join([p for p in (record.instruction, record.context) if p] + [body])


def source_messages(record: Record) -> list[dict[str, str]] | None:
    """The record's own source messages (set by importers that read chat items), without assistant turns."""
    msgs = record.meta.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return None
    return [dict(m) for m in msgs if isinstance(m, dict) and m.get("role") != "assistant"]


def prompt_messages(record: Record, style: str) -> tuple[list[dict[str, str]], str]:
    """(messages to send, what was rendered: 'verbatim', 'authors' or 'medinject-fr') for one record.

    A record whose options could not be parsed at ingest (meta.options_parsed false) is always sent its
    verbatim messages, whatever the style: its option texts are unknown.
    """
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; choose one of {', '.join(PROMPT_STYLES)}")
    verbatim = source_messages(record)
    if verbatim and (style == "paper" or record.meta.get("options_parsed") is False):
        return verbatim, "verbatim"
    if style in ("paper", "authors"):
        return [{"role": "user", "content": authors_user_text(record)}], "authors"
    return to_messages(record, with_answer=False), "medinject-fr"


def _parse_options(block: str) -> dict[str, str]:
    """'A. text' lines; a line that does not start a new letter continues the option before it."""
    options: dict[str, str] = {}
    last = ""
    for line in block.split("\n"):
        m = _OPTION_LINE.match(line)
        if m and m.group(1) not in options:
            last = m.group(1)
            options[last] = m.group(2)
        elif last:
            options[last] += "\n" + line
        else:
            raise ValueError(f"instruction: option line {line!r} is not 'X. text'")
    return options


def parse_user_text(text: str, *, with_options: bool = True) -> dict[str, Any]:
    """Invert `user_text`: instruction, context, question and options (read only when `with_options`)."""
    q_head, c_head = "\n\n" + _QUESTION_HEAD, "\n\n" + _CONTEXT_HEAD
    q_at, c_at = text.find(q_head), text.find(c_head)
    if q_at < 0:
        raise ValueError(f"instruction: no '{FR['question']}' part after the instruction")
    context = None
    if 0 <= c_at < q_at:
        instruction = text[:c_at]
        q_at = text.rfind(q_head)  # the context may hold blank lines of its own
        context = text[c_at + len(c_head):q_at]
    else:
        instruction = text[:q_at]
    rest = text[q_at + len(q_head):]
    options: dict[str, str] = {}
    cut = rest.rfind(_OPTIONS_HEAD) if with_options else -1
    if cut >= 0:
        options = _parse_options(rest[cut + len(_OPTIONS_HEAD):])
        rest = rest[:cut]
    return {"instruction": instruction, "context": context, "question": rest, "options": options}


def default_instruction(instruction: str) -> tuple[Task | None, str | None]:
    """(task, None) when `instruction` is one of ours, else (None, instruction)."""
    for task, text in FR["instruction"].items():
        if instruction == text:
            return task, None
    return None, instruction


_LETTER_TOKEN = re.compile(r"[A-Za-z]+")


def parse_letters(text: str, options: list[str] | str, *, strict: bool = True) -> list[str] | None:
    """Letters in an answer like `A, C`; None when the answer is invalid.

    Strict: every word must be a single option letter (any other letter or word invalidates the answer).
    Lenient: single capital letters among the options are collected and the rest ignored.
    Duplicates collapse; the result follows option order.
    """
    allowed = list(options)
    words = _LETTER_TOKEN.findall(text)
    if strict:
        if any(len(w) != 1 or w.upper() not in allowed for w in words):
            return None
        if re.sub(r"[A-Za-z,\s]", "", text):
            return None
        found = {w.upper() for w in words}
    else:
        found = {w for w in words if len(w) == 1 and w in allowed}
    return [a for a in allowed if a in found]


# ------------------------------------------------------- exchange layouts ----

_EXTRA_KEYS = ("id", "source", "split", "lang", "parent_id", "meta")


def _task_value(value: Any, field: str) -> Task:
    try:
        return Task(str(value).strip().lower())
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not one of mcqu, mcq, oeq") from None


def _origin_value(value: Any) -> Origin:
    if value is None or value == "":
        raise ValueError("origin: missing (give --origin)")
    try:
        return Origin(value)
    except ValueError:
        raise ValueError(f"origin: {value!r} is not one of native, translated, synthetic") from None


def _extras(row: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k in _EXTRA_KEYS:
        if row.get(k) is not None:
            out[k] = row[k]
        elif k in defaults:
            out[k] = defaults[k]
    if isinstance(out.get("meta"), str):  # Parquet files keep meta as a JSON string
        try:
            out["meta"] = json.loads(out["meta"]) if out["meta"] else {}
        except json.JSONDecodeError:
            raise ValueError("meta: not a JSON object") from None
    return out


def to_reference_eval(record: Record) -> dict[str, Any]:
    """The reference evaluation JSON item: `messages` (no answer), `classes`, `answer`."""
    item = {
        "messages": to_messages(record, with_answer=False),
        "classes": list(record.options),
        "answer": record.letters if record.is_choice else record.answer,
        "task": record.task.value,
        "origin": record.origin.value,
    }
    item.update({k: getattr(record, k) for k in _EXTRA_KEYS})
    return item


def from_reference_eval(item: dict[str, Any], *, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    defaults = defaults or {}
    messages = item["messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError("messages: expected a list of {role, content} objects")
    user = next((m.get("content") for m in messages if m.get("role") == "user"), None)
    if not isinstance(user, str):
        raise ValueError("messages: no user message")
    answer = item["answer"]
    task = _task_value(item["task"], "task") if item.get("task") else None
    parsed = parse_user_text(user, with_options=task is not Task.OEQ)
    task_from_text, _ = default_instruction(parsed["instruction"])
    if task is None:
        if task_from_text is not None:
            task = task_from_text
        elif not item.get("classes"):
            task = Task.OEQ
        else:
            task = Task.MCQU if isinstance(answer, str) or len(answer) == 1 else Task.MCQ
    instruction = None if parsed["instruction"] == FR["instruction"][task] else parsed["instruction"]
    fields = {
        "task": task,
        "question": parsed["question"],
        "options": parsed["options"],
        "answer": answer,
        "context": parsed["context"],
        "instruction": instruction,
        "origin": _origin_value(item.get("origin") or defaults.get("origin")),
    }
    fields.update(_extras(item, defaults))
    return fields


# Curation: an LLM judge pre-screens translated and synthetic records (score 1 to 5).
QUALITY_PROMPT_VERSION = "quality-fr-v1"
QUALITY_FR = {
    "system": "Vous êtes un expert médical qui évalue des données d'entraînement en français.",
    "user": "Évaluez la qualité de l'exemple d'entraînement ci-dessous : exactitude médicale, justesse de la "
            "réponse attendue, clarté et qualité du français. Donnez une note entière de 1 (inutilisable) à 5 "
            "(excellent) et répondez uniquement en JSON : {{\"score\": <1-5>, \"raison\": \"<une phrase>\"}}.\n\n"
            "--- Exemple ---\n{item}\n\n--- Réponse attendue ---\n{answer}",
}
