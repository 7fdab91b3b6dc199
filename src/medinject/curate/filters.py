"""Per-record filters. Each returns None to keep the record, or a `Reject` saying why."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..records import Record
from ..textnorm import match_key
from .settings import CurateSettings
from .text import normalise

# Rejection reasons, in the order the pipeline applies them (the report lists them in this order).
REASONS = ("invalid", "empty_field", "too_short", "too_long", "duplicate_options", "option_label", "answer_in_question",
           "wrong_language", "contaminated", "exact_duplicate", "near_duplicate", "low_quality")


@dataclass
class Reject:
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


def _text_fields(record: Record) -> list[tuple[str, str, str]]:
    """(field name for messages, length class for max_chars, text) of every text the record carries."""
    out = [("question", "question", record.question)]
    out += [(f"options.{k}", "option", v) for k, v in record.options.items()]
    for name in ("context", "instruction"):
        value = getattr(record, name)
        if value is not None:
            out.append((name, name, value))
    if not record.is_choice:
        out.append(("answer", "answer", str(record.answer)))
    return out


def check_structure(record: Record, settings: CurateSettings) -> Reject | None:
    """Empty or over-long fields, a too-short question, duplicate options."""
    for name, kind, text in _text_fields(record):
        if not text.strip():
            return Reject("empty_field", {"field": name})
        limit = settings.max_chars[kind]
        if len(text) > limit:
            return Reject("too_long", {"field": name, "chars": len(text), "max": limit})
    if len(record.question.strip()) < settings.min_question_chars:
        return Reject("too_short", {"field": "question", "chars": len(record.question.strip()),
                                    "min": settings.min_question_chars})
    if record.is_choice:
        seen: dict[str, str] = {}
        for letter, text in record.options.items():
            # Only case, spacing and end punctuation: "pH = 6,1 + log" and "pH = 6,1 - log" are two options.
            key = match_key(text).rstrip(" .;,:!?")
            if key in seen:
                return Reject("duplicate_options", {"options": [seen[key], letter]})
            seen[key] = letter
    return None


def check_answer_leak(record: Record, settings: CurateSettings) -> Reject | None:
    """An answer text copied verbatim into the question gives the answer away."""
    question = f" {normalise(record.question)} "
    answers = ([(a, record.options[a]) for a in record.letters] if record.is_choice
               else [(None, str(record.answer))])
    for letter, text in answers:
        norm = normalise(text)
        if len(norm.split()) >= settings.answer_in_question_min_words and f" {norm} " in question:
            return Reject("answer_in_question", {"field": f"options.{letter}" if letter else "answer"})
    return None


def check_option_labels(record: Record, settings: CurateSettings) -> Reject | None:
    """Options that repeat their own letter label ("A) Oméprazole"), whatever the record's origin: shown as
    "A. A) Oméprazole" and carried to other letters by answer-order permutations."""
    from ..translate.checks import labelled_options

    letters = labelled_options(record.options) if record.is_choice else []
    return Reject("option_label", {"options": letters}) if letters else None


def record_filters(record: Record, settings: CurateSettings) -> Reject | None:
    return (check_structure(record, settings) or check_option_labels(record, settings)
            or check_answer_leak(record, settings))


_FIRST_LINE = re.compile(r"\s+")


def invalid(message: str, field: str | None = None) -> Reject:
    detail = {"message": _FIRST_LINE.sub(" ", message).strip()}
    if field:
        detail["field"] = field
    return Reject("invalid", detail)
