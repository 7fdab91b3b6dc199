"""What the command line accepts: closed sets of values and value checks, shared by every verb.

Closed sets are `Literal` types: typer lists their values in `--help` and in the error, and the parsed value
stays a plain string. They are spelled out here (not imported from the stages) so that `medinject --help` stays
instant; tests/test_cli_usage.py checks each against the registry it mirrors. The callbacks raise
`typer.BadParameter`, so the error names the option as typed and nothing has run yet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import typer

IngestFormat = Literal["frenchmedmcqa", "medqa", "mmlu", "medinjection", "reference-eval", "e3c", "morfitt",
                       "generic"]
FileKind = Literal["auto", "records", "passages"]
ExportLayout = Literal["medinjection", "reference-eval", "hf", "lm-eval"]
ToySize = Literal["tiny", "small"]
BackendKind = Literal["openai", "transformers", "vllm"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]
EvalMode = Literal["fast", "paper"]
Engine = Literal["transformers", "vllm"]
CompareTest = Literal["bootstrap", "permutation"]
CompareMetric = Literal["em", "hamming", "bleu", "chrf", "rouge2", "meteor", "bertscore_f1"]
Pairwise = Literal["first", "all", "none"]
JudgeLang = Literal["fr", "en"]
JudgeVerdict = Literal["free", "constrained"]
Scale = Literal["graded", "binary"]
KrippendorffLevel = Literal["nominal", "ordinal", "interval"]

DECODING_MODES = ("constrained", "greedy")
JUDGE_MODES = ("paper", "binary", "graded")
_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?|xpu(:\d+)?)$")

# Ranges of the numbers that options and the `options:` blocks of an experiment file share:
# name -> (lowest value, whether the lowest value itself is allowed).
RANGES: dict[str, tuple[float, bool]] = {
    "limit": (1, True), "max_tokens": (1, True), "max_new_tokens": (1, True), "n_boot": (1, True),
    "per_passage": (1, True), "batch_size": (1, True), "concurrency": (1, True), "workers": (1, True),
    "bertscore_layers": (1, True), "timeout": (0, False), "max_retries": (0, True), "permute": (0, True),
    "temperature": (0, True),
}
# Closed sets of the same `options:` blocks (`modes` is a list of decoding modes there).
CHOICES: dict[str, tuple[str, ...]] = {
    "dtype": get_args(Dtype), "engine": get_args(Engine), "pairwise": get_args(Pairwise), "mode": get_args(EvalMode),
    "lang": get_args(JudgeLang), "modes": DECODING_MODES, "verdict": get_args(JudgeVerdict),
}


def values(choice: Any) -> tuple[str, ...]:
    return tuple(get_args(choice))


def comma_list(choices: Iterable[str] | None = None) -> Callable[[str | None], str | None]:
    """A comma-separated option: not empty, no blank or repeated entry, each among `choices` when given."""
    known = tuple(choices) if choices is not None else None

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        items = [v.strip() for v in value.split(",")]
        if not any(items):
            raise typer.BadParameter("empty list" + (f"; choose from {', '.join(known)}" if known else ""))
        if not all(items):
            raise typer.BadParameter(f"empty entry in {value!r}")
        if known is not None:
            bad = [v for v in items if v not in known]
            if bad:
                raise typer.BadParameter(f"{bad[0]!r} is not one of {', '.join(known)}")
        dup = next((v for i, v in enumerate(items) if v in items[:i]), None)
        if dup is not None:
            raise typer.BadParameter(f"{dup!r} is listed twice")
        return ",".join(items)

    return check


def non_finite(value: Any) -> str | None:
    """Why a float is refused before any range check: NaN compares False with every bound."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    return None


def positive(value: float | None) -> float | None:
    """Strictly above zero (a timeout, a number of epochs)."""
    if why := non_finite(value):
        raise typer.BadParameter(why)
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be > 0, got {value}")
    return value


def fraction(value: float | None) -> float | None:
    """Strictly between 0 and 1 (a similarity threshold)."""
    if value is not None and not 0 < value < 1:
        raise typer.BadParameter(f"must be between 0 and 1 (both excluded), got {value}")
    return value


def url(value: str | None) -> str | None:
    """An http(s) URL with a host, e.g. http://127.0.0.1:8000/v1."""
    if value is None:
        return None
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number or out of range)
    except ValueError:
        raise typer.BadParameter(f"{value!r} has a bad port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(f"{value!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    return value


def value_problem(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for setting `name` (by RANGES, CHOICES and the device names), or None."""
    if value is None:
        return None
    if why := non_finite(value):
        return why
    if name in RANGES and isinstance(value, int | float) and not isinstance(value, bool):
        low, inclusive = RANGES[name]
        if value < low or (value == low and not inclusive):
            return f"must be {'>=' if inclusive else '>'} {low}, got {value}"
    if name in CHOICES:
        for item in value if isinstance(value, list | tuple) else [value]:
            if item not in CHOICES[name]:
                return f"{item!r} is not one of {', '.join(CHOICES[name])}"
        if isinstance(value, list | tuple) and not value:
            return f"empty list; choose from {', '.join(CHOICES[name])}"
    if name == "device" and value != "auto" and not (isinstance(value, str) and _DEVICE.match(value)):
        return f"unknown device {value!r}; use auto, cpu, mps, cuda or cuda:N"
    return None


def device(value: str | None) -> str | None:
    """A torch device; auto (like no value): cuda when available, else cpu."""
    problem = value_problem("device", value)
    if problem:
        raise typer.BadParameter(problem)
    return None if value == "auto" else value


def names(value: list[str] | None) -> list[str] | None:
    """Names that identify people or systems: none empty, none twice."""
    for i, n in enumerate(value or []):
        if not n.strip():
            raise typer.BadParameter("empty name")
        if n in value[:i]:
            raise typer.BadParameter(f"{n!r} is given twice")
    return value
