"""Option letters as tokens, the token sets of constrained decoding, and strict answer parsing.

Everything here follows the reference evaluation script of MedInjection-FR, so that `paper` mode reproduces
it: a string's token is the *last* token of its encoding, letters are allowed with and without a leading
space, and the parser upper-cases the answer and rejects any character outside a small set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..textnorm import clean

# Separators the constrained decoder may emit between letters (the reference script's list).
SEPARATORS = (",", ", ", " ", ",\n")
# Characters the strict parser tolerates besides option letters (the reference script's list).
ALLOWED_NON_LETTERS = frozenset(",;/|+ \n.():")
_END_MARKERS = ("eos", "eot", "im_end")


def last_token_id(tokenizer, text: str) -> int | None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    return ids[-1] if ids else None


def token_ids_for_strings(tokenizer, strings: Sequence[str]) -> list[int]:
    """Sorted distinct last-token ids of `strings`."""
    return sorted({t for t in (last_token_id(tokenizer, s) for s in strings) if t is not None})


def letter_token_map(tokenizer, letters: Sequence[str]) -> dict[int, str]:
    """Token id -> option letter, for `X` and ` X` (two ids when the tokenizer tells them apart)."""
    mapping: dict[int, str] = {}
    for letter in letters:
        for s in (letter, " " + letter):
            tid = last_token_id(tokenizer, s)
            if tid is not None:
                mapping[tid] = letter
    return mapping


def stop_token_ids(tokenizer) -> list[int]:
    """End-of-sequence token plus every named special token that reads as an end marker."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    for value in (getattr(tokenizer, "special_tokens_map", None) or {}).values():
        if isinstance(value, str) and any(tag in value.lower() for tag in _END_MARKERS):
            tid = tokenizer.convert_tokens_to_ids(value)
            if isinstance(tid, int) and tid >= 0:
                ids.append(tid)
    return sorted(set(ids))


def allowed_token_ids(tokenizer, letters: Sequence[str]) -> list[int]:
    """Tokens the constrained decoder may emit: letters (bare and spaced), separators, end tokens."""
    letters = [x.strip().upper() for x in letters]
    letter_ids = token_ids_for_strings(tokenizer, letters + [" " + x for x in letters])
    return sorted(set(letter_ids) | set(token_ids_for_strings(tokenizer, SEPARATORS)) | set(stop_token_ids(tokenizer)))


# How an answer text is read. `tokens`: every letter must stand alone between separators ("A, C"; never the
# E and T of "et"). `reference`: the reference script's character rule (every option letter anywhere counts,
# so "A, B et C" with options A-T reads A B C E T); `paper` mode keeps it, being the authors' procedure.
RULES = ("tokens", "reference")
_SEPARATOR_RUN = re.compile("[" + re.escape("".join(sorted(ALLOWED_NON_LETTERS))) + "]+")


def parse_answer(text: str | None, letters: Sequence[str], *, multi: bool, rule: str = "tokens"
                 ) -> list[str] | None:
    """Strictly parsed letters in option order, or None when the answer is invalid.

    Invalid: any letter that is not an option, any character outside the tolerated punctuation, no letter at
    all, or (single answer) more than one distinct letter; with the `tokens` rule (default) also any word of
    two or more letters ("et", "AB"). Lower-case letters count as their capitals and repeated letters
    collapse, as in the reference script (which returns an empty list where this returns None; both score
    zero). The `tokens` rule reads the text through `textnorm.clean` (a no-break space is a space).
    """
    if text is None:
        return None
    if rule not in RULES:
        raise ValueError(f"unknown parsing rule {rule!r}; choose from {', '.join(RULES)}")
    options = [x.upper() for x in letters]
    allowed = set(options)
    if rule == "reference":
        s = text.upper().strip()
        for ch in s:
            if (ch.isalpha() and ch not in allowed) or (not ch.isalpha() and ch not in ALLOWED_NON_LETTERS):
                return None
        found = {ch for ch in s if ch in allowed}
    else:
        words = [w for w in _SEPARATOR_RUN.split(clean(text).upper()) if w]
        if not all(w in allowed for w in words):  # a word of several letters, another letter or character
            return None
        found = set(words)
    if not found or (not multi and len(found) != 1):
        return None
    return [x for x in options if x in found]


def cannot_parse(text: str, letters: Sequence[str], *, multi: bool) -> bool:
    """True once `text` holds what makes `parse_answer` (`tokens` rule) fail whatever follows it.

    A trailing U+FFFD may be the first bytes of a character still being generated, so it is not decisive.
    A word only grows, so two letters side by side, or a letter that is not an option, already decide.
    """
    allowed = {x.upper() for x in letters}
    s = clean(text).upper().rstrip("\ufffd")
    if any(not ch.isalpha() and ch not in ALLOWED_NON_LETTERS for ch in s):
        return True
    words = [w for w in _SEPARATOR_RUN.split(s) if w]
    if any(w not in allowed for w in words):
        return True
    return not multi and len(set(words)) > 1
