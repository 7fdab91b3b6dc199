"""Questions whose options were rendered into the prompt text: split them back into question and options.

The renderings in use: `(A) x`, `A. x`, `A) x`, `A : x`, `A- x`, with or without a `Choix de réponses :` or
`Options :` line before them. Letters must run A, B, C... without a gap; a line that starts no new letter
continues the option before it; a blank line followed by text that is not the next option ends the block
(that text is returned as `after`). Every failure is a ValueError with the reason, so that the caller can
keep the item with its verbatim prompt instead of guessing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*(?:choix\s+de\s+r[ée]ponses?|options?)\s*:?\s*$", re.IGNORECASE)
_OPTION = re.compile(r"^\s*(?:\(([A-Z])\)|([A-Z])\s*(?:\.|\)|:|-))\s*(\S.*)$")


def _option(line: str) -> tuple[str, str] | None:
    m = _OPTION.match(line)
    if not m:
        return None
    return (m.group(1) or m.group(2)), m.group(3).rstrip()


def _block(lines: list[str]) -> tuple[dict[str, str], str]:
    """Options from `lines` (the first non-blank one must be option A) and the text after the block."""
    options: dict[str, str] = {}
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    while i < len(lines):
        line = lines[i]
        expected = string.ascii_uppercase[len(options)] if len(options) < 26 else None
        opt = _option(line)
        if opt and opt[0] == expected:
            options[opt[0]] = opt[1]
        elif not line.strip():
            j = i
            while j < len(lines) and not lines[j].strip():
                j += 1
            nxt = _option(lines[j]) if j < len(lines) else None
            if not (nxt and nxt[0] == expected):
                return options, "\n".join(lines[j:]).strip()
            i = j
            continue
        elif not options:
            raise ValueError(f"the options start with {line.strip()[:40]!r}, not an option A")
        else:
            options[list(options)[-1]] += "\n" + line.rstrip()
        i += 1
    return options, ""


def _start(lines: list[str]) -> int:
    """Index of the last line that starts a run of options A, B... (no header given); -1 when none."""
    best = -1
    for i, line in enumerate(lines):
        opt = _option(line)
        if opt and opt[0] == "A":
            following = [o for o in map(_option, lines[i + 1:]) if o]
            if following and following[0][0] == "B":
                best = i
    return best


def split_options(text: str, classes: Sequence[str] | None = None) -> tuple[str, dict[str, str], str]:
    """(question, options, text after the options) from one rendered prompt; ValueError when unreadable.

    `classes`, when given, are the letters the item declares: the parsed letters must be exactly those.
    """
    lines = text.split("\n")
    heads = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    if heads:
        at, skip = heads[-1], 1
    else:
        at, skip = _start(lines), 0
        if at < 0:
            raise ValueError("no option lines like '(A) text' or 'A. text' found")
    options, after = _block(lines[at + skip:])
    question = "\n".join(lines[:at]).strip()
    if len(options) < 2:
        raise ValueError(f"only {len(options)} option line(s) found")
    if not question:
        raise ValueError("no question text before the options")
    if classes:
        declared = [str(c).strip().upper() for c in classes]
        if declared != list(options):
            raise ValueError(f"the rendered letters {''.join(options)} differ from classes {''.join(declared)}")
    return question, {k: v.strip() for k, v in options.items()}, after
