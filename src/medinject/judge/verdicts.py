"""Judge prompts (versioned YAML files) and strict verdict parsing.

A verdict is read only from a `Verdict: X` line. No line, conflicting lines, or a value outside the scale make
the verdict unparseable: it is kept with its raw text and a reason, and left out of every mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..io import read_yaml

MODES = ("binary", "graded")
KINDS = (*MODES, "pairwise")
LANGS = ("fr", "en")

# Markdown decoration a judge may put around the tag or the value (**Verdict** : *1*).
_DECOR = "*_`#>\u00ab\u00bb\"'\u201c\u201d "
_VERDICT_LINE = re.compile(r"^[\s*_#>-]*verdict[\s*_]*:(.*)$", re.IGNORECASE | re.MULTILINE)
_SCORE = re.compile(r"^(\d+)(?:\s*/\s*(\d+))?$")


@dataclass(frozen=True)
class JudgePrompt:
    kind: str
    version: str
    lang: str
    system: str
    user: str
    scale: tuple[int, int] | None = None  # binary and graded
    verdicts: dict[str, str] | None = None  # pairwise: accepted word (casefolded) -> A, B or tie

    def messages(self, **fields: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.user.format(**fields)}]

    def parse(self, text: str | None) -> tuple[Any, str | None]:
        """(value, None) for a valid verdict, else (None, reason)."""
        if text is None or not text.strip():
            return None, "empty judge output"
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
            v = self.verdicts.get(raw.casefold())
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
        verdicts = {str(k).casefold(): str(x) for k, x in v.items()}
    else:
        s = d.get("scale")
        if not (isinstance(s, list) and len(s) == 2 and all(isinstance(x, int) for x in s) and s[0] < s[1]):
            raise InputError(path, "must be [lowest, highest] integers", field="scale")
        scale = (s[0], s[1])
    return JudgePrompt(kind, d["version"], d.get("lang", lang), d["system"].strip(), d["user"], scale, verdicts)
