"""Task kinds: one versioned French prompt file each, packaged or supplied by the user."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError, MedinjectError
from ..records import Task

LETTERS5 = ["A", "B", "C", "D", "E"]
ANSWER_MAX_CHARS = 120  # a pooled kind's answer, which other items show as an option


@dataclass(frozen=True)
class Kind:
    name: str
    version: str
    task: str  # "mcq" (five options, one or several correct) or "oeq"
    context: bool  # whether the record keeps the passage as its context
    system: str
    user: str  # with a {passage} field
    instruction: str | None = None
    max_tokens: int = 800
    # Worked examples, each {passage: "...", item: {...}}, shown as earlier turns: a small model that answers
    # the instructions with letters for options ("A": "B") writes an item after seeing one.
    examples: tuple[dict[str, Any], ...] = ()
    # "pool": the model writes a question and its answer; the four wrong options are other items' answers
    # (distractors.py). Only for task mcq.
    distractors: str | None = None

    @property
    def writes_options(self) -> bool:
        return self.task == "mcq" and self.distractors is None

    def messages(self, passage: str) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": self.system}]
        for ex in self.examples:
            turns += [{"role": "user", "content": self.user.format(passage=ex["passage"])},
                      {"role": "assistant", "content": json.dumps(ex["item"], ensure_ascii=False)}]
        return [*turns, {"role": "user", "content": self.user.format(passage=passage)}]

    def schema(self) -> dict[str, Any]:
        if self.writes_options:
            return {"type": "object", "required": ["question", "options", "answer"],
                    "properties": {"question": {"type": "string"},
                                   # Named letters, so a local backend can write the skeleton (backends/guided.py).
                                   "options": {"type": "object", "required": LETTERS5,
                                               "properties": {L: {"type": "string"} for L in LETTERS5}},
                                   "answer": {"type": "array", "items": {"type": "string", "maxLength": 3},
                                              "minItems": 1,
                                              "maxItems": 5}}}
        # A pooled kind's answers become the options of other items: short ones, or an item outgrows the
        # training length (SmolLM2's answers ran to whole sentences of the passage, measured).
        answer = {"type": "string", "maxLength": ANSWER_MAX_CHARS} if self.distractors else {"type": "string"}
        return {"type": "object", "required": ["question", "answer"],
                "properties": {"question": {"type": "string"}, "answer": answer}}


def _parse(path: Path | str, text: str) -> Kind:
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InputError(path, f"not YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(d, dict):
        raise InputError(path, "expected a mapping with name, version, task, system and user")
    for f in ("name", "version", "task", "system", "user"):
        if not d.get(f):
            raise InputError(path, "missing", field=f)
    if d["task"] not in ("mcq", "oeq"):
        raise InputError(path, f"task must be mcq or oeq, got {d['task']!r}", field="task")
    if "{passage}" not in d["user"]:
        raise InputError(path, "the user prompt has no {passage} field", field="user")
    examples = d.get("examples") or []
    for n, ex in enumerate(examples if isinstance(examples, list) else [None], 1):
        if not (isinstance(ex, dict) and isinstance(ex.get("passage"), str) and isinstance(ex.get("item"), dict)):
            raise InputError(path, f"example {n} needs a passage (text) and an item (mapping)", field="examples")
    if d.get("distractors") not in (None, "pool") or d.get("distractors") and d["task"] != "mcq":
        raise InputError(path, "distractors can only be pool, and only for task mcq", field="distractors")
    return Kind(name=d["name"], version=d["version"], task=d["task"], context=bool(d.get("context", True)),
                system=d["system"].strip(), user=d["user"], instruction=d.get("instruction"),
                max_tokens=int(d.get("max_tokens", 800)), examples=tuple(examples),
                distractors=d.get("distractors"))


def packaged_kinds() -> dict[str, Kind]:
    root = resources.files("medinject") / "prompts_files" / "synthesize"
    kinds = [_parse(f.name, f.read_text("utf-8")) for f in root.iterdir() if f.name.endswith(".yaml")]
    return {k.name: k for k in sorted(kinds, key=lambda k: k.name)}


def load_kinds(names: list[str] | None = None, extra_dir: str | Path | None = None) -> list[Kind]:
    """The chosen kinds (default: all), from the package plus `extra_dir/*.yaml` (which may override them)."""
    kinds = packaged_kinds()
    if extra_dir is not None:
        folder = Path(extra_dir)
        if not folder.is_dir():
            raise InputError(folder, "not a folder of kind files (*.yaml)")
        for f in sorted(folder.glob("*.yaml")):
            k = _parse(f, f.read_text(encoding="utf-8"))
            kinds[k.name] = k
    if not names:
        return list(kinds.values())
    unknown = [n for n in names if n not in kinds]
    if unknown:
        raise MedinjectError(f"unknown task kind(s) {', '.join(unknown)}; known: {', '.join(kinds)}")
    return [kinds[n] for n in names]


def record_task(kind: Kind, answer: list[str] | str) -> Task:
    if kind.task == "oeq" or not kind.writes_options:  # pooled kinds become MCQU once their options are drawn
        return Task.OEQ
    return Task.MCQU if len(answer) == 1 else Task.MCQ
