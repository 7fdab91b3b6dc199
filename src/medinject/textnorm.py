"""The one text normalisation: applied wherever text enters medinject and before any comparison or metric.

Two strings that print identically must compare equal: an NFD 'é' against an NFC one, a no-break space
against a space, a CRLF cell against an LF one. `clean` is what is stored (faithful but canonical);
`match_key` is what two texts are compared by (also blind to case, invisible characters and spacing).
This module is dependency-free so that every stage, and the CLI's fast path, can import it.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Every Unicode space separator except the ASCII space itself (NBSP, narrow NBSP, en/em spaces, ...).
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# Characters that render as nothing: zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen.
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")
_WHITESPACE = re.compile(r"\s+")
_COMBINING = re.compile(r"[\u0300-\u036f]+")
_NON_WORD = re.compile(r"[\W_]+")


def clean(text: str) -> str:
    """NFC, a leading BOM dropped, CRLF and CR to LF, Unicode spaces folded to ' '. Idempotent."""
    if not text:
        return text
    if text.isascii():
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    text = unicodedata.normalize("NFC", text.lstrip("\ufeff"))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _SPACES.sub(" ", text)


def has_entities(text: str) -> bool:
    """Whether the text holds an HTML entity (`&lt;`, `&eacute;`, `&#233;`) that `decode_entities` decodes."""
    return bool(text) and "&" in text and _ENTITY.search(text) is not None


def decode_entities(text: str) -> str:
    """HTML entities decoded (`&lt;` -> '<', `&eacute;` -> 'é'), then `clean`ed: what ingest stores."""
    if has_entities(text):
        text = html.unescape(text)
    return clean(text)


def strip_invisible(text: str) -> str:
    """`clean`, without the characters that render as nothing (zero-width characters, soft hyphens)."""
    return _INVISIBLE.sub("", clean(text)) if text else text


def canonical(text: str | None) -> str:
    """What a metric or a judge reads: entities decoded, clean, invisible characters removed; case and spacing kept."""
    return strip_invisible(decode_entities(text)) if text else ""


def match_key(text: str | None) -> str:
    """What two texts are compared by: entities decoded, clean, invisible characters removed, spacing collapsed,
    case folded."""
    if not text:
        return ""
    return _WHITESPACE.sub(" ", canonical(text)).strip().casefold()


def loose_key(text: str | None) -> str:
    """What duplicate and contamination tests compare: `match_key`, also blind to accents and punctuation.

    'Le  Para\u00adcétamol !' -> 'le paracetamol'. Invisible characters go first, so a soft hyphen or a
    zero-width space inside a word never splits it in two.
    """
    if not text:
        return ""
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
        # NFKD folds NFC/NFD and compatibility forms alike; the combining marks it separates are dropped.
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return _NON_WORD.sub(" ", text.casefold()).strip()


def join_key(value) -> str:
    """What an identifier (item id, system name) is joined on: clean and stripped, case kept."""
    return strip_invisible(str(value)).strip() if value is not None else ""
