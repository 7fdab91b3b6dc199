"""Judge prompts (versioned YAML files) and strict verdict parsing.

Our judges' verdict is read only from a `Verdict: X` line, or, constrained, from a JSON `verdict` field the
backend lets hold only the scale's values (a small local model then cannot fail to answer). No line,
conflicting lines, or a value outside the scale make the verdict unparseable: it is kept with its raw text
and a reason, and left out of every mean.
The `paper` judge reads the authors' way instead: the first standalone 0 or 1 in the output, else none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..io import read_yaml

MODES = ("paper", "binary", "graded")
DEFAULT_MODES = ("binary", "graded")
KINDS = (*MODES, "pairwise")
LANGS = ("fr", "en")
PAPER_LANG = "en"  # the authors' judge prompt exists in English only
PARSERS = ("verdict_line", "first_standalone_binary")

# Markdown decoration and quotes a judge may put around the tag or the value (**Verdict** : *1*, « Verdict : 1 »).
_DECOR = "*_`#>\u00ab\u00bb\"'\u201c\u201d\u00a0\u202f "
_VERDICT_LINE = re.compile(r"^[\s*_#>\-\u00ab\u201c\"']*verdict[\s*_]*:(.*)$", re.IGNORECASE | re.MULTILINE)
# A 0 or 1 standing alone: not part of a longer number ("10", "0.5", "2,1") nor of a word ("1st").
_STANDALONE_BINARY = re.compile(r"(?<!\w)(?<!\d[.,])([01])(?!\w)(?![.,]\d)")


def first_standalone_binary(text: str | None) -> int | None:
    """The authors' verdict rule: the first standalone 0 or 1 in the output, else None."""
    m = _STANDALONE_BINARY.search(text or "")
    return int(m.group(1)) if m else None
_SCORE = re.compile(r"^(\d+)(?:\s*/\s*(\d+))?$")


@dataclass(frozen=True)
class JudgePrompt:
    kind: str
    version: str
    lang: str
    system: str
    user: str
    scale: tuple[int, int] | None = None  # binary and graded
    verdicts: dict[str, str] | None = None  # pairwise: accepted word (as written) -> A, B or tie
    parser: str = "verdict_line"
    max_tokens: int | None = None  # the prompt's own generation length (the paper judge: one token)
    temperature: float | None = None

    def messages(self, **fields: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.user.format(**fields)}]

    def choices(self) -> list[str]:
        """Every verdict the prompt accepts, as written: the scale's integers or the pairwise words."""
        if self.verdicts is not None:
            return list(self.verdicts)
        return [str(v) for v in range(self.scale[0], self.scale[1] + 1)]

    def verdict_schema(self) -> dict[str, Any]:
        """The JSON a constrained judge must write: one `verdict` field, one of `choices()`."""
        return {"type": "object", "properties": {"verdict": {"type": "string", "enum": self.choices()}},
                "required": ["verdict"]}

    def parse_constrained(self, parsed: Any) -> tuple[Any, str | None]:
        """(value, None) from a constrained judge's JSON object, else (None, reason)."""
        if not isinstance(parsed, dict) or not isinstance(parsed.get("verdict"), str):
            return None, "no verdict field in the JSON"
        return self._value(parsed["verdict"].strip())

    def parse(self, text: str | None) -> tuple[Any, str | None]:
        """(value, None) for a valid verdict, else (None, reason)."""
        if text is None or not text.strip():
            return None, "empty judge output"
        if self.parser == "first_standalone_binary":
            value = first_standalone_binary(text)
            return (value, None) if value is not None else (None, "no standalone 0 or 1")
        values = [m.group(1).strip(_DECOR + ".") for m in _VERDICT_LINE.finditer(text)]
        if not values:
            return None, "no 'Verdict:' line"
        parsed = []
        for raw in values:
            value, reason = self._value(raw)
            if reason:
                return None, reason
            parsed.append(value)
        if len(set(parsed)) > 1:
            return None, f"conflicting verdicts {sorted(set(map(str, parsed)))}"
        return parsed[0], None

    def _value(self, raw: str) -> tuple[Any, str | None]:
        if self.verdicts is not None:
            v = {k.casefold(): x for k, x in self.verdicts.items()}.get(raw.casefold())
            if v is None:
                return None, f"verdict {raw!r} is not one of {', '.join(self.verdicts)}"
            return v, None
        lo, hi = self.scale
        m = _SCORE.match(raw)
        if not m or (m.group(2) is not None and int(m.group(2)) != hi):
            return None, f"verdict {raw!r} is not an integer from {lo} to {hi}"
        value = int(m.group(1))
        if not lo <= value <= hi:
            return None, f"verdict {value} is outside {lo}-{hi}"
        return value, None


def _prompt_dir() -> Path:
    return Path(str(resources.files("medinject") / "prompts_files" / "judge"))


def load_prompt(kind: str, lang: str = "fr", prompt_dir: str | Path | None = None) -> JudgePrompt:
    """The prompt for `kind` (binary, graded, pairwise) in `lang`, from `prompt_dir` or the shipped ones."""
    if kind not in KINDS:
        raise MedinjectError(f"unknown judge kind {kind!r} (expected one of {', '.join(KINDS)})")
    if kind == "paper":
        lang = PAPER_LANG
    path = Path(prompt_dir or _prompt_dir()) / f"{kind}.{lang}.yaml"
    if not path.exists():
        raise MedinjectError(f"no {kind} judge prompt for language {lang!r} ({path} is missing)")
    d = read_yaml(path)
    if not isinstance(d, dict):
        raise InputError(path, "expected a mapping")
    for f in ("version", "system", "user"):
        if not isinstance(d.get(f), str) or not d[f].strip():
            raise InputError(path, "missing or empty", field=f)
    needed = ("{answer_a}", "{answer_b}") if kind == "pairwise" else ("{answer}",)
    for placeholder in ("{question}", "{reference}", *needed):
        if placeholder not in d["user"]:
            raise InputError(path, f"the template lacks {placeholder}", field="user")
    scale = verdicts = None
    if kind == "pairwise":
        v = d.get("verdicts")
        if not isinstance(v, dict) or set(map(str, v.values())) != {"A", "B", "tie"}:
            raise InputError(path, "must map accepted words to A, B and tie", field="verdicts")
        verdicts = {str(k): str(x) for k, x in v.items()}
    else:
        s = d.get("scale")
        if not (isinstance(s, list) and len(s) == 2 and all(isinstance(x, int) for x in s) and s[0] < s[1]):
            raise InputError(path, "must be [lowest, highest] integers", field="scale")
        scale = (s[0], s[1])
    parser = d.get("parse", "verdict_line")
    if parser not in PARSERS:
        raise InputError(path, f"unknown parser {parser!r}; one of {', '.join(PARSERS)}", field="parse")
    max_tokens = d.get("max_tokens")
    if max_tokens is not None and not (isinstance(max_tokens, int) and max_tokens > 0):
        raise InputError(path, "must be a positive integer", field="max_tokens")
    temperature = d.get("temperature")
    if temperature is not None and not isinstance(temperature, int | float):
        raise InputError(path, "must be a number", field="temperature")
    return JudgePrompt(kind, d["version"], d.get("lang", lang), d["system"].strip(), d["user"], scale, verdicts,
                       parser, max_tokens, None if temperature is None else float(temperature))
