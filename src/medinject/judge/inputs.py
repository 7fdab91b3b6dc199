"""Open-ended answers to judge or rate, read from prediction files.

Two layouts are accepted, line by line:
- the evaluator's `predictions.jsonl` (one line per item and mode): lines with `task` = "oeq" carry
  `id`, `reference`, `prediction` and `question` or only `prompt`; other tasks are skipped;
- a simple layout: `id`, `question`, `reference`, `prediction`, optional `system`.

The system a file holds is named on the command line (`name=path` or `--systems`), else by each line's
`system` field, else by the file (its parent folder when the file is called `predictions.jsonl`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, MedinjectError
from ..io import iter_jsonl
from ..textnorm import canonical, join_key

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Answer:
    id: str
    system: str
    question: str
    reference: str
    prediction: str
    user_message: str | None = None  # the item's first user message, verbatim, when the line carries it

    @property
    def key(self) -> tuple[str, str]:
        return self.id, self.system


def n_words(text: str) -> int:
    """Answer length in words: what a reader (and a verbose judge) perceives."""
    return len(_WORD.findall(text))


def parse_specs(specs: Sequence[str], systems: str | Sequence[str] | None = None) -> list[tuple[str, str | None]]:
    """`name=path` or `path` arguments (+ optional comma-separated names) -> [(path, name or None)]."""
    names = [s.strip() for s in systems.split(",")] if isinstance(systems, str) else list(systems or [])
    if names and len(names) != len(specs):
        raise MedinjectError(f"--systems names {len(names)} system(s) for {len(specs)} file(s)")
    out: list[tuple[str, str | None]] = []
    for i, spec in enumerate(specs):
        name, sep, path = str(spec).partition("=")
        if not sep or not name or "/" in name or Path(spec).exists():
            name, path = None, str(spec)
        if names:
            name = names[i]
        if not name and name is not None:
            raise MedinjectError(f"empty system name for {path}")
        out.append((path, name))
    return out


def _default_name(path: Path) -> str:
    return path.parent.name if path.stem == "predictions" and path.parent.name else path.stem


def _question(obj: dict) -> str | None:
    q = obj.get("question")
    if isinstance(q, str) and q.strip():
        return q
    prompt = obj.get("prompt")
    if isinstance(prompt, list):  # chat messages: the last user turn
        users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        prompt = users[-1] if users else None
    if isinstance(prompt, str) and prompt.strip():
        return _question_from_prompt(prompt)
    return None


# Ends of a user turn in the chat templates of common model families (ChatML, Llama 3, Gemma, Mistral, Llama 2).
_TURN_ENDS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "[/INST]", "</s>")


# Where a user turn starts in the chat templates of common model families (ChatML, Llama 3, Gemma).
_USER_STARTS = (("<|im_start|>user\n", "<|im_end|>"), ("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
                ("<start_of_turn>user\n", "<end_of_turn>"))


def first_user_message(obj: dict) -> str | None:
    """The first user message as the model was given it: from `messages` or a chat-list `prompt`, else cut from
    a chat-template prompt text (ChatML, Llama 3, Gemma markers); None when it cannot be told."""
    for key in ("messages", "prompt"):
        msgs = obj.get(key)
        if isinstance(msgs, list):
            users = [m.get("content") for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
            if users and isinstance(users[0], str):
                return users[0]
    prompt = obj.get("prompt")
    if isinstance(prompt, str):
        for start, end in _USER_STARTS:
            i = prompt.find(start)
            if i >= 0:
                j = prompt.find(end, i + len(start))
                return prompt[i + len(start):j if j >= 0 else None]
    return None


def _question_from_prompt(prompt: str) -> str:
    """The question (with its context) from a prompt: our user text, bare or inside a chat template."""
    from ..prompts import FR, parse_user_text

    text = prompt
    starts = [i for i in (prompt.find(t) for t in {*FR["instruction"].values()}) if i >= 0]
    if starts:  # the evaluator stores the chat-template text: keep our user turn only
        text = prompt[min(starts):]
        ends = [i for i in (text.find(e) for e in _TURN_ENDS) if i >= 0]
        text = text[:min(ends)] if ends else text
    try:
        parsed = parse_user_text(text.strip())
    except ValueError:
        return prompt
    return f"{parsed['context']}\n\n{parsed['question']}" if parsed["context"] else parsed["question"]


def read_answers(path: str | Path, system: str | None = None) -> list[Answer]:
    """The open-ended answers of one prediction file (see the module doc for layouts)."""
    path = Path(path)
    if path.is_dir():
        path = path / "predictions.jsonl"
    answers: list[Answer] = []
    seen: set[tuple[str, str]] = set()
    for lineno, obj in iter_jsonl(path):
        task = obj.get("task")
        if task is not None and task != "oeq":
            continue
        rid = obj.get("id")
        if rid is None or str(rid).strip() == "":
            raise InputError(path, "missing item id", line=lineno, field="id")
        rid = join_key(rid)
        fields = {}
        for f in ("reference", "prediction"):
            v = obj.get(f)
            if not isinstance(v, str):
                raise InputError(path, f"expected a text, got {type(v).__name__}", line=lineno, record=rid, field=f)
            fields[f] = canonical(v)  # what the judge reads: entities decoded, NFC, spaces folded
        if not fields["reference"].strip():
            raise InputError(path, "empty reference answer", line=lineno, record=rid, field="reference")
        question = _question(obj)
        if question is None:
            raise InputError(path, "no question (nor prompt) text", line=lineno, record=rid, field="question")
        name = join_key(system or obj.get("system") or _default_name(path))
        key = (rid, name)
        if key in seen:
            raise InputError(path, f"item listed twice for system {name!r}", line=lineno, record=rid, field="id")
        seen.add(key)
        answers.append(Answer(rid, str(name), canonical(question), fields["reference"], fields["prediction"],
                              first_user_message(obj)))
    if not answers:
        raise InputError(path, "no open-ended (oeq) answers in this file")
    return answers


def load_answers(files: Sequence[tuple[str | Path, str | None]]) -> list[Answer]:
    """Answers of several files: `[(path, system or None)]` (what `parse_specs` returns)."""
    out: list[Answer] = []
    seen: set[tuple[str, str]] = set()
    for path, name in files:
        for a in read_answers(path, name):
            if a.key in seen:
                raise InputError(path, f"system {a.system!r} already given by another file", record=a.id)
            seen.add(a.key)
            out.append(a)
    return out


def systems_of(answers: Sequence[Answer]) -> list[str]:
    """System names in order of first appearance."""
    return list(dict.fromkeys(a.system for a in answers))
