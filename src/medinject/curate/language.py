"""Offline language identification (py3langid): a record must be written in the language it declares."""

from __future__ import annotations

from functools import lru_cache

from ..errors import MedinjectError
from ..records import Record
from .filters import Reject
from .settings import CurateSettings

# The detector reads this much of the text: enough to decide, and the cost grows with the length.
SAMPLE_CHARS = 400


@lru_cache(maxsize=1)
def _model_file():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise MedinjectError("language checks need py3langid: pip install 'medinject[curate]'") from None
    return LanguageIdentifier, MODEL_FILE


@lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...]):
    cls, model_file = _model_file()
    ident = cls.from_model_file(model_file, norm_probs=True)
    ident.set_languages(list(languages))
    return ident


@lru_cache(maxsize=1)
def known_languages() -> frozenset[str]:
    cls, model_file = _model_file()
    return frozenset(cls.from_model_file(model_file).labels)


def language_text(record: Record) -> str:
    parts = [record.question, *record.options.values()]
    if not record.is_choice:
        parts.append(str(record.answer))
    return " ".join(parts)[:SAMPLE_CHARS]


def detect(text: str, languages: list[str] | tuple[str, ...]) -> tuple[str, float]:
    """(language code, probability) among `languages`."""
    return _identifier(tuple(sorted(languages))).classify(text)


def check_language(record: Record, settings: CurateSettings) -> Reject | None:
    text = language_text(record)
    if len(text) < settings.lang_min_chars or record.lang not in known_languages():
        return None  # too short to judge, or a language the detector does not know
    candidates = sorted({*(x for x in settings.languages if x in known_languages()), record.lang})
    lang, prob = detect(text, candidates)
    if lang != record.lang:
        return Reject("wrong_language", {"declared": record.lang, "detected": lang, "probability": round(prob, 3)})
    return None
