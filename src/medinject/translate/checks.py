"""What a translation must keep: the record's keys, every option, non-empty French text, length, numbers."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

from ..records import Record
from ..textnorm import match_key

# French runs ~15% longer than English; outside these bounds text was dropped, added or looped.
RECORD_RATIO = (0.6, 2.0)
FIELD_RATIO = (0.35, 3.0)  # per field, for fields long enough to judge (FIELD_MIN chars)
FIELD_MIN = 40
LANG_MIN = 20  # shorter texts are too short to identify their language
LANG_MAX = 400  # the language of a record shows in its first few hundred characters; the rest only costs time

# Non-breaking spaces always group thousands; a plain space may ("1 000") or may not ("PaO2 130").
_NUMBER = re.compile(r"\d{1,3}(?:[\u00a0\u202f]\d{3})+(?!\d)|\d+(?:[.,]\d+)*")
_NUMBER_SPACED = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+(?:[.,]\d+)*")
_LANG_LOCK = threading.Lock()
_SEP = re.compile(r"[ \u00a0\u202f.,](\d+)")


def payload(record: Record) -> dict[str, Any]:
    """The fields a translator sees, under the keys it must return."""
    d: dict[str, Any] = {"question": record.question}
    if record.context:
        d["context"] = record.context
    if record.instruction:
        d["instruction"] = record.instruction
    if record.is_choice:
        d["options"] = dict(record.options)
    else:
        d["answer"] = str(record.answer)
    return d


def schema_for(src: dict[str, Any]) -> dict[str, Any]:
    """Exactly the keys of `src` (and its option letters), every value a string."""
    props: dict[str, Any] = {}
    for k, v in src.items():
        if isinstance(v, dict):
            props[k] = {"type": "object", "properties": {L: {"type": "string"} for L in v},
                        "required": list(v), "additionalProperties": False}
        else:
            props[k] = {"type": "string"}
    return {"type": "object", "properties": props, "required": list(src), "additionalProperties": False}


def leaves(d: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for k, v in d.items():
        if isinstance(v, dict):
            yield from leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", str(v)


def numbers(text: str, *, spaced: bool = False) -> set[str]:
    """Numbers in `text`, written the same whatever the convention: 1,000 = 1000; 2.5 = 2,5.

    `spaced` also reads digit groups split by plain spaces as one number (1 000 = 1000).
    """
    out = set()
    for m in (_NUMBER_SPACED if spaced else _NUMBER).finditer(text):
        # A separator before exactly three final digits groups thousands; any other one is a decimal mark.
        s = _SEP.sub(lambda g: g.group(1) if len(g.group(1)) == 3 else "." + g.group(1), m.group(0))
        out.add(s)
    return out


def detect_language(text: str) -> str:
    try:
        import py3langid as langid
    except ImportError:
        from ..errors import MedinjectError

        raise MedinjectError("language checks need py3langid: pip install 'medinject[api]'") from None
    with _LANG_LOCK:  # one load of the model even when the warm-up thread and a check start together
        return langid.classify(text[:LANG_MAX])[0]


def warm_up_language_model() -> None:
    """Load the language identifier on a thread (~1 s, mostly LZMA that frees the GIL) while requests fly."""
    threading.Thread(target=detect_language, args=("texte de préchauffage",), daemon=True).start()


def _label(letter: str) -> re.Pattern:
    L = re.escape(letter)
    return re.compile(rf"^\s*(?:\(\s*{L}\s*\)|\[\s*{L}\s*\]|{L}\s*\)|(?P<weak>{L}\s*[.:]|{L}\s+[-–—]))\s*")


def option_label(letter: str, text: str) -> re.Match | None:
    """The option's own letter label at its start (`A) `, `(A) `, `[A] `, `A. `, `A: `, `A - `), if any."""
    return _label(letter).match(text)


def strip_option_labels(src: dict[str, Any], out: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`out` with every option's copied letter label removed, and the letters stripped.

    A label counts as copied when the translation starts with its own letter label and the source option does
    not ("A. baumannii" under A stays when the English said "A. baumannii").
    """
    options = out.get("options")
    if not isinstance(options, dict) or not isinstance(src.get("options"), dict):
        return out, []
    fixed, stripped = dict(options), []
    for letter, text in options.items():
        m = option_label(letter, str(text))
        if m and not option_label(letter, str(src["options"].get(letter, ""))):
            fixed[letter] = str(text)[m.end():]
            stripped.append(letter)
    return ({**out, "options": fixed} if stripped else out), stripped


def misplaced_labels(src: dict[str, Any], out: dict[str, Any]) -> list[tuple[str, str]]:
    """(letter, other) for each translated option that starts with another option's label (`B) ...` under A),
    which the source option did not: the options were relabelled or shuffled, so the item cannot be trusted.
    Only unambiguous labels count (`B)`, `(B)`, `[B]`; `B.` may start an abbreviation)."""
    options, source = out.get("options"), src.get("options")
    if not isinstance(options, dict) or not isinstance(source, dict):
        return []
    found = []
    for letter, text in options.items():
        for other in options:
            m = option_label(other, str(text)) if other != letter else None
            if m and not m.group("weak") and not option_label(other, str(source.get(letter, ""))):
                found.append((letter, other))
    return found


def labelled_options(options: dict[str, str]) -> list[str]:
    """Letters whose option repeats its own label, for records of any origin (no source to compare with).

    `A) `, `(A) ` or `[A] ` once is enough; `A. `, `A: ` or `A - ` must be on two options, since one option may
    well start with an abbreviation ("A. baumannii").
    """
    found = {k: option_label(k, v) for k, v in options.items()}
    found = {k: m for k, m in found.items() if m}
    strong = [k for k, m in found.items() if not m.group("weak")]
    return sorted(found) if strong or len(found) >= 2 else []


def check_translation(src: dict[str, Any], out: dict[str, Any]) -> tuple[str, str] | None:
    """(reason, detail) for the first failed check, or None. `out` already matches `schema_for(src)`."""
    pairs = dict(leaves(src))
    got = dict(leaves(out))
    empty = [k for k, v in got.items() if not v.strip()]
    if empty:
        return "empty", f"empty field(s): {', '.join(empty)}"
    same = _merged_options(src.get("options"), out.get("options"))
    if same:
        return "duplicate_options", f"options {same[0]} and {same[1]} have the same translation"
    fr_text = " ".join(got.values())
    if len(fr_text) >= LANG_MIN:
        lang = detect_language(fr_text)
        if lang != "fr":
            return "not_french", f"language detected: {lang}"
    copied = _copied_options(src.get("options"), out.get("options"))
    if copied:
        return "untranslated_options", copied
    en_len, fr_len = sum(len(v) for v in pairs.values()), len(fr_text) - (len(got) - 1)
    ratio = fr_len / max(en_len, 1)
    if not RECORD_RATIO[0] <= ratio <= RECORD_RATIO[1]:
        return "length_ratio", f"French/English length {ratio:.2f} outside {RECORD_RATIO[0]}-{RECORD_RATIO[1]}"
    for k, v in pairs.items():
        if len(v) >= FIELD_MIN:
            r = len(got[k]) / len(v)
            if not FIELD_RATIO[0] <= r <= FIELD_RATIO[1]:
                return "length_ratio", f"{k}: French/English length {r:.2f} outside {FIELD_RATIO[0]}-{FIELD_RATIO[1]}"
    src_text = " ".join(pairs.values())
    src_nums, out_nums = numbers(src_text), numbers(fr_text)
    if src_nums != out_nums and not any(
            a == b for a in (src_nums, numbers(src_text, spaced=True))
            for b in (out_nums, numbers(fr_text, spaced=True))):
        missing, extra = sorted(src_nums - out_nums), sorted(out_nums - src_nums)
        parts = ([f"missing {', '.join(missing[:5])}"] if missing else []) + (
            [f"added {', '.join(extra[:5])}"] if extra else [])
        return "numbers", "; ".join(parts)
    return None


def _copied_options(src: Any, out: Any) -> str | None:
    """Why the options count as left untranslated, or None: every option came back as its source text and they
    do not read as French. The record as a whole can still pass the language check on a French question
    (SmolLM2-135M wrote one over "strength. / power. / stride length. / stamina.", copied from MMLU); an option
    that is the same in both languages (a drug name, an eponym, a number) is judged with the others, not alone."""
    if not isinstance(src, dict) or not isinstance(out, dict) or len(out) < 2:
        return None
    if any(match_key(str(out[k])) != match_key(str(src.get(k, ""))) for k in out):
        return None
    text = " ".join(str(v) for v in out.values())
    if not re.search(r"[^\W\d_]{5,}", text):  # codes, units and numbers only (IgG, mmHg): nothing to translate
        return None
    lang = detect_language(text)
    return None if lang == "fr" else f"options {', '.join(out)} are the source text (language detected: {lang})"


def _merged_options(src: Any, out: Any) -> tuple[str, str] | None:
    """Two letters whose distinct source options came back as one text: the item lost an answer choice."""
    if not isinstance(src, dict) or not isinstance(out, dict):
        return None
    seen: dict[str, str] = {}
    for letter, text in out.items():
        key = match_key(str(text))
        other = seen.get(key)
        if other is not None and match_key(str(src.get(other, ""))) != match_key(str(src.get(letter, ""))):
            return other, letter
        seen.setdefault(key, letter)
    return None


def apply_translation(record: Record, out: dict[str, Any], meta: dict[str, Any]) -> Record:
    """The French record: translated text, the same letters and answer, provenance and translation meta."""
    fields = record.model_dump()
    fields.update({k: out[k] for k in ("question", "context", "instruction", "answer") if k in out})
    if "options" in out:
        fields["options"] = {L: out["options"][L] for L in record.options}  # same letters, same order
        fields["answer"] = list(record.letters)
    fields.update(id=f"{record.id}-fr", origin="translated", lang="fr", parent_id=record.id,
                  meta={**record.meta, **meta})
    return Record.model_validate(fields)
