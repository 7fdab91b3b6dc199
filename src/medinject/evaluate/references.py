"""Options that refer to other options ("A et B", "toutes les réponses ci-dessus", "none of the above").

Moving such an option, or the options it names, to another letter or position can make its text false while
its gold letter is remapped as if nothing changed. `order_policy` decides, per item, what answer-order
variants may do:

- no referring option: every option may move;
- only references to the whole set of other options ("toutes les réponses ci-dessus", "aucune des
  propositions", "all of the above", "none of the above"), all placed after the other options: those stay
  in place and the options above them move among themselves (the set above is the same set);
- anything else (a letter, "les deux précédentes", "both of the above", a set reference in the middle):
  the item is left out of permuted and circular variants.

French and English. A letter only counts when the option is nothing but letters and filler words
("A et B", "Réponses A, C", "Both A and B"): "Hépatites B et C" and "Vitamine A" are contents, not references.
"""

from __future__ import annotations

import re
from typing import Literal

from ..records import Record
from ..textnorm import clean

Policy = Literal["free", "fixed_tail", "left_out"]

_CONNECTOR = r"(?:\s*(?:,|;|/|&|\+|\bet\b|\band\b|\bou\b|\bor\b|\bni\b|\bnor\b)\s*|\s+)"
_LETTERS = re.compile(rf"(?<![\w'’])[A-Z](?:{_CONNECTOR}[A-Z])*(?![\w'’])")
_FILLER = re.compile(
    r"\b(?:les|la|le|des|de|d|l|seule|seul|seulement|uniquement|et|ou|sont|est|exactes?|justes?|vraies?|"
    r"correctes?|bonnes?|fausses?|réponses?|propositions?|options?|choix|items?|both|neither|either|only|"
    r"answers?|choices?|are|is|true|correct|false|right|the|and|or|nor|ni|toutes|tous|deux)\b|[\s.,;:!?()'’-]+",
    re.IGNORECASE)
# References to every other option, true or false whatever order the others are shown in.
_SET = re.compile(
    r"\b(?:toutes|tous|aucune|aucun)\s+(?:les\s+|des\s+|de\s+ces\s+|ces\s+)?(?:réponses|propositions|items|"
    r"options|choix|affirmations|énoncés)\b|\b(?:toutes|tous)\s+sont\s+(?:exact|just|vrai|correct)|"
    r"\baucune\s+(?:n['’]est|réponse|proposition|de ces)\b|"
    r"\b(?:all|none)\s+(?:of\s+)?(?:the\s+)?(?:above|these|them|the\s+(?:options|answers|choices|statements))\b|"
    r"\b(?:all|none)\s+(?:are|is)\s+(?:correct|true|right|wrong|false)\b",
    re.IGNORECASE)
# References to particular options by position: never movable.
_POSITION = re.compile(
    r"\bles\s+(?:deux|trois)\s+(?:pr[ée]c[ée]dentes|premi[èe]res|derni[èe]res\s+(?:réponses|propositions)|"
    r"propositions|réponses|ci-dessus)\b|\b(?:réponses?|propositions?|items?)\s+(?:pr[ée]c[ée]dentes?|ci-dessus|"
    r"sus-?mentionn[ée]es?)\b|\bci-dessus\b|"
    r"\b(?:both|neither|all|none|any)\s+of\s+(?:the\s+)?(?:above|these|them|previous|preceding)\b|\bthe\s+above\b|"
    r"\b(?:options?|answers?|choices?|statements?)\s+(?:above|before)\b|"
    r"\b(?:previous|preceding)\s+(?:two|three|options?|answers?|choices?|statements?)\b|"
    r"\b(?:first|last)\s+(?:two|three)\s+(?:options|answers|choices|statements)\b",
    re.IGNORECASE)


def names_letters(text: str, letters: set[str]) -> bool:
    """Whether the option is a reference to option letters: only letters of this item and filler words."""
    text = clean(text).strip()
    found = [m for m in _LETTERS.finditer(text) if set(re.findall(r"[A-Z]", m.group(0))) <= letters]
    if not found:
        return False
    rest = _LETTERS.sub(" ", text)
    rest = _FILLER.sub("", rest)
    n_letters = sum(len(re.findall(r"[A-Z]", m.group(0))) for m in found)
    # A lone letter must come with words that make it a reference ("Réponse A"), never alone.
    return not rest and (n_letters >= 2 or len(text) > 1)


def reference_kind(text: str, letters: set[str]) -> str | None:
    """'set' (all / none of the others), 'fixed' (letters or positions), or None (no reference)."""
    if names_letters(text, letters):
        return "fixed"
    text = clean(text)
    if _SET.search(text):
        # "toutes les réponses ci-dessus" is a set reference; "les deux précédentes" (no set word) is not.
        return "set" if not re.search(r"\bles\s+deux\b|\bboth\b|\bneither\b", text, re.IGNORECASE) else "fixed"
    if _POSITION.search(text):
        return "fixed"
    return None


def order_policy(record: Record) -> tuple[Policy, list[str]]:
    """(policy, the letters that may move) for the answer-order variants of `record`."""
    letters = list(record.options)
    kinds = {k: reference_kind(v, set(letters)) for k, v in record.options.items()}
    refs = [k for k in letters if kinds[k]]
    if not refs:
        return "free", letters
    movable = letters[:len(letters) - len(refs)]
    if all(kinds[k] == "set" for k in refs) and letters[len(movable):] == refs and len(movable) >= 2:
        return "fixed_tail", movable
    return "left_out", []
