"""The one record that flows through every stage, and the passage that seeds synthesis."""

from __future__ import annotations

import string
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LETTERS = string.ascii_uppercase


class Task(str, Enum):
    MCQU = "mcqu"  # exactly one correct option
    MCQ = "mcq"  # one or more correct options
    OEQ = "oeq"  # open-ended answer text


class Origin(str, Enum):
    """How the text came to exist in its language."""

    NATIVE = "native"
    TRANSLATED = "translated"
    SYNTHETIC = "synthetic"


# Order of preference when copies of one item come from several provenances.
ORIGIN_PRIORITY = {Origin.NATIVE: 0, Origin.TRANSLATED: 1, Origin.SYNTHETIC: 2}


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False, validate_assignment=True)

    id: str = Field(min_length=1)
    task: Task
    question: str
    options: dict[str, str] = Field(default_factory=dict)
    answer: list[str] | str
    context: str | None = None
    instruction: str | None = None
    origin: Origin
    source: str = Field(min_length=1)
    split: str = "train"
    lang: str = "fr"
    parent_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("question is empty")
        return v

    @field_validator("context", "instruction")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        # Exchange layouts cannot tell an empty context from none; one spelling keeps round trips exact.
        return v if v is None or v.strip() else None

    @field_validator("lang")
    @classmethod
    def _lang_code(cls, v: str) -> str:
        v = v.strip().lower()
        if not (2 <= len(v) <= 3 and v.isalpha()):
            raise ValueError(f"lang must be an ISO 639 code like 'fr', got {v!r}")
        return v

    @model_validator(mode="after")
    def _task_rules(self) -> Record:
        if self.task is Task.OEQ:
            if self.options:
                raise ValueError("options: an oeq record has no options")
            if not isinstance(self.answer, str) or not self.answer.strip():
                raise ValueError("answer: an oeq record needs a non-empty answer text")
            return self
        if len(self.options) < 2:
            raise ValueError("options: a multiple-choice record needs at least two options")
        for letter, text in self.options.items():
            if len(letter) != 1 or letter not in LETTERS:
                raise ValueError(f"options: key {letter!r} is not an upper-case letter")
            if not str(text).strip():
                raise ValueError(f"options: option {letter} is empty")
        answer = [self.answer] if isinstance(self.answer, str) else list(self.answer)
        if not answer:
            raise ValueError("answer: no correct letter given")
        if len(set(answer)) != len(answer):
            raise ValueError(f"answer: duplicate letters in {answer}")
        unknown = [a for a in answer if a not in self.options]
        if unknown:
            raise ValueError(f"answer: letter(s) {', '.join(unknown)} not among options {''.join(self.options)}")
        if self.task is Task.MCQU and len(answer) != 1:
            raise ValueError(f"answer: mcqu needs exactly one letter, got {len(answer)}")
        # Canonical form: letters in option order, stored as a list.
        order = list(self.options)
        object.__setattr__(self, "answer", sorted(answer, key=order.index))
        return self

    @property
    def is_choice(self) -> bool:
        return self.task is not Task.OEQ

    @property
    def letters(self) -> list[str]:
        """Gold letters (empty for oeq)."""
        return list(self.answer) if self.is_choice else []

    @property
    def answer_text(self) -> str:
        """The gold answer as text: the answer itself for oeq, the correct options otherwise."""
        if not self.is_choice:
            return str(self.answer)
        return " ; ".join(self.options[a] for a in self.letters)


class Passage(BaseModel):
    """A seed text (clinical case, abstract) from which synthetic items are written."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    text: str
    source: str = Field(min_length=1)
    lang: str = "fr"
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is empty")
        return v


def letters_for(n: int) -> list[str]:
    if n > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options are supported, got {n}")
    return list(LETTERS[:n])
