"""Mixture specifications: the paper's seven configurations, custom weightings, and the YAML that holds them.

A configuration weighs origins, and optionally the sources inside an origin. `{native: 1, translated: 3}`
is NAT:TRAD = 1:3. `{native: 1, translated: {medqa: 2, medmcqa: 1}}` gives native 1/4 and translated 3/4,
and inside each task type the translated share is split 2:1 between medqa and medmcqa (among the sources
that have that task type: a source without open questions leaves them to the others).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError, MedinjectError, first_validation_problem
from ..io import read_yaml
from ..records import Origin, Task

ABBREV = {"NAT": Origin.NATIVE, "TRAD": Origin.TRANSLATED, "SYN": Origin.SYNTHETIC}
PAPER_CONFIGS = ["NAT", "TRAD", "SYN", "NAT-TRAD", "NAT-SYN", "TRAD-SYN", "ALL"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")

Weights = dict[Origin, float | dict[str, float]]
Leaf = tuple[Origin, str | None]  # a stratum's pool: (origin, source), or (origin, None) for all its sources


def paper_weights(name: str) -> Weights:
    """NAT, TRAD, SYN and their '-'-joined combinations (equal shares), ALL = the three."""
    if name == "ALL":
        return {o: 1.0 for o in Origin}
    parts = name.split("-")
    if not parts or any(p not in ABBREV for p in parts) or len(set(parts)) != len(parts):
        raise MedinjectError(f"unknown mix {name!r}: use {', '.join(PAPER_CONFIGS)} (or NAT, TRAD, SYN joined "
                             "by '-'), or give its weights")
    return {ABBREV[p]: 1.0 for p in parts}


def origin_weights(weights: Weights) -> list[tuple[Origin, float]]:
    """Each origin's share of N, in origin order; an origin given per source weighs the sum of its sources."""
    out = []
    for origin in Origin:
        w = weights.get(origin)
        total = sum(w.values()) if isinstance(w, dict) else w
        if total is not None and total > 0:
            out.append((origin, float(total)))
    if not out:
        raise MedinjectError("a mix configuration needs at least one positive weight")
    return out


def source_weights(weights: Weights) -> dict[Origin, dict[str, float]]:
    """Per-source weights inside an origin, where the configuration gives them."""
    return {o: {s: float(x) for s, x in sorted(w.items()) if x > 0} for o, w in weights.items() if isinstance(w, dict)}


class MixSpec(BaseModel):
    """What `medinject mix --spec FILE.yaml` reads. Pools may also come from the command line."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(gt=0)
    seed: int = 0
    pools: dict[Origin, list[str]] = Field(default_factory=dict)
    configs: list[str] | None = None  # names to build; default: the paper's seven plus every custom one
    weights: dict[str, Weights] = Field(default_factory=dict)  # custom (or re-weighted) configurations
    tasks: dict[Task, float] | None = None  # task proportions; default: from the smallest common availability
    task_types: list[Task] | None = None  # only records of these tasks (the paper: mcq, mcqu); default: all
    missing_tasks: Literal["error", "redistribute", "drop"] = "error"  # a task some pools have and one lacks
    allow_shrink: bool = False

    @field_validator("weights")
    @classmethod
    def _names(cls, v: dict[str, Weights]) -> dict[str, Weights]:
        for name, w in v.items():
            if not _NAME.match(name):
                raise ValueError(f"mix name {name!r}: letters, digits and _ . + - only")
            for origin, x in w.items():
                values = x.values() if isinstance(x, dict) else [x]
                if any(val < 0 for val in values):
                    raise ValueError(f"mix {name}: negative weight for {origin.value}")
        return v

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, v: dict[Task, float] | None) -> dict[Task, float] | None:
        if v is not None and (any(x < 0 for x in v.values()) or sum(v.values()) <= 0):
            raise ValueError("task proportions must be non-negative and not all zero")
        return v

    @model_validator(mode="after")
    def _tasks_within_types(self) -> MixSpec:
        if self.task_types is not None:
            if not self.task_types:
                raise ValueError("task_types: give at least one task (mcqu, mcq, oeq)")
            outside = [t.value for t, x in (self.tasks or {}).items() if x > 0 and t not in self.task_types]
            if outside:
                raise ValueError(f"tasks: {', '.join(outside)} given a share but not in task_types")
        return self

    @property
    def allowed_tasks(self) -> list[Task]:
        return [t for t in Task if self.task_types is None or t in self.task_types]

    def resolved(self) -> dict[str, Weights]:
        """Name -> weights for every configuration to build, in order."""
        names = self.configs if self.configs is not None else PAPER_CONFIGS + [
            n for n in self.weights if n not in PAPER_CONFIGS]
        if len(set(names)) != len(names):
            raise MedinjectError("a mix configuration is listed twice")
        return {n: self.weights[n] if n in self.weights else paper_weights(n) for n in names}


def load_spec(path: str | Path) -> MixSpec:
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, "a mix spec is a YAML mapping (size, seed, pools, configs, weights, tasks)")
    return parse_spec(data, path)


def parse_spec(data: dict[str, Any], path: str | Path | None = None) -> MixSpec:
    try:
        return MixSpec.model_validate(data)
    except ValidationError as e:
        field, msg = first_validation_problem(e)
        raise InputError(path, msg, field=field) from None


MISSING_POLICY = {
    "error": "stop, naming the pool and the task",
    "redistribute": "the origin lacking it spreads its share over its other tasks",
    "drop": "the task is left out of every configuration",
}


def describe(configs: list[str], size: int, seed: int, options: dict[str, Any] | None = None) -> str:
    """One line for a plan: the configurations, their size and task composition rule."""
    options = options or {}
    types = options.get("task_types")
    shares = options.get("tasks")
    what = f"tasks {'+'.join(str(getattr(t, 'value', t)) for t in types)} only" if types else "all tasks"
    rule = (", ".join(f"{getattr(t, 'value', t)} {x}" for t, x in shares.items()) if shares
            else "smallest common availability")
    missing = options.get("missing_tasks", "error")
    return (f"{len(configs)} mixes ({', '.join(configs)}) x {size:,} records, {what}; task shares: {rule}; "
            f"a task a pool lacks: {missing}; seed {seed}")
