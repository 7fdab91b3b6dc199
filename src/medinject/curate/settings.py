"""Curation settings: one validated model, so a YAML `curate.options` block and the CLI share the names."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import MedinjectError, first_validation_problem
from ..records import Origin

DEFAULT_MAX_CHARS = {"question": 4000, "option": 1000, "context": 30000, "instruction": 4000, "answer": 8000}
# Restricting the detector to plausible languages avoids reading Latin species names as Latin.
DEFAULT_LANGUAGES = ["fr", "en", "es", "de", "it", "pt", "nl"]


class CurateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Structure and length
    max_chars: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_MAX_CHARS))
    min_question_chars: int = Field(default=5, ge=1)
    answer_in_question_min_words: int = Field(default=3, ge=1)  # shorter answers may appear by chance
    # Duplicates
    exact_dedup: bool = True
    near_dedup: bool = True
    threshold: float = Field(default=0.7, gt=0, lt=1)  # Jaccard similarity of word shingles
    shingle_size: int = Field(default=2, ge=1, le=10)  # words per shingle
    num_perm: int = Field(default=128, ge=16, le=512)
    lsh_weights: tuple[float, float] = (0.1, 0.9)  # false positive vs false negative weight for banding
    # Language
    check_language: bool = True
    languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    lang_min_chars: int = Field(default=40, ge=0)  # shorter texts are not judged
    # Decontamination
    eval_threshold: float = Field(default=0.5, gt=0, lt=1)  # lower than `threshold`: a leak costs more than a loss
    eval_ngram: int = Field(default=8, ge=3)  # words per n-gram for the overlap test
    eval_containment: float = Field(default=0.5, gt=0, le=1)  # share of an eval item's n-grams found in one record
    # Quality (needs a backend)
    quality_threshold: float | None = Field(default=None, ge=1, le=5)
    quality_origins: list[Origin] = Field(default_factory=lambda: [Origin.TRANSLATED, Origin.SYNTHETIC])
    quality_batch: int = Field(default=32, ge=1)
    # Execution
    workers: int = Field(default=0, ge=0)  # 0: up to 2 processes, as many as there are cores
    chunk_size: int = Field(default=2000, ge=10)
    progress: bool = True

    @field_validator("max_chars")
    @classmethod
    def _known_fields(cls, v: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(v) - set(DEFAULT_MAX_CHARS))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_MAX_CHARS)}")
        return {**DEFAULT_MAX_CHARS, **v}


def make_settings(settings: CurateSettings | dict[str, Any] | None = None, **overrides: Any) -> CurateSettings:
    base = settings.model_dump() if isinstance(settings, CurateSettings) else dict(settings or {})
    base.update(overrides)
    try:
        return CurateSettings.model_validate(base)
    except ValidationError as e:
        field, msg = first_validation_problem(e)
        raise MedinjectError(f"curate setting '{field}': {msg}") from None
