"""Synthetic French tasks from passages: MCQ with five options and open-ended kinds, each output checked."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import Backend, BackendSpec, ChatRequest, ChatResponse
from ..backends.jobs import Job, Outcome, run_job
from ..errors import MedinjectError
from ..io import read_passages, sha256_file
from ..records import Origin, Passage, Record
from ..textnorm import match_key
from ..translate.checks import detect_language
from ..translate.translate import _backend
from .kinds import LETTERS5, Kind, load_kinds, record_task

_LETTER = re.compile(r"[(\[]?[A-Fa-f][).\]]?")
COPY_RATIO = 0.9  # similarity to the passage above which a text counts as copied through


@dataclass(frozen=True)
class Item:
    passage: Passage
    kind: Kind
    n: int  # index among the items of this kind for this passage

    @property
    def id(self) -> str:
        return f"{self.passage.id}-{self.kind.name}-{self.n}"




def copied(text: str, passage: str) -> bool:
    """True when `text` is the passage (or most of it) copied through rather than written."""
    t, p = match_key(text), match_key(passage)
    if len(t) < 0.5 * len(p):
        return False
    if t in p or p in t:
        return True
    return difflib.SequenceMatcher(None, t, p, autojunk=False).quick_ratio() >= COPY_RATIO and \
        difflib.SequenceMatcher(None, t, p, autojunk=False).ratio() >= COPY_RATIO


def check_item(kind: Kind, obj: dict[str, Any], passage: str) -> tuple[str, str] | None:
    """(reason, detail) for an output that cannot become a record, else None. `obj` matches `kind.schema()`."""
    question = obj["question"].strip()
    if kind.writes_options:
        options = {str(k).strip().upper(): str(v).strip() for k, v in obj["options"].items()}
        answer = [str(a).strip().upper() for a in obj["answer"]]
        texts = [question, *options.values()]
        if not all(texts):
            return "empty", "empty question or option"
        if sorted(options) != LETTERS5:
            return "option_count", f"options {''.join(sorted(options))}, expected ABCDE"
        outside = sorted(set(answer) - set(options))
        if outside:
            return "answer_outside_options", f"answer letter(s) {', '.join(outside)} not among the options"
        if len(set(answer)) != len(answer):
            return "duplicate_answer", f"answer repeats letters: {answer}"
        norm = [match_key(v) for v in options.values()]
        if len(set(norm)) != len(norm):
            return "duplicate_options", "two options have the same text"
        letters = [k for k, v in options.items() if _LETTER.fullmatch(v)]
        # "A": "B", "B": "C"...: the model wrote labels, not answer choices. Three, since an item on blood
        # groups may well offer "A" and "B".
        if len(letters) >= 3:
            return "letter_options", f"option(s) {', '.join(letters)} hold only a letter"
    else:
        answer_text = obj["answer"].strip()
        texts = [question, answer_text]
        if not question or not answer_text:
            return "empty", "empty question or answer"
        if match_key(answer_text) == match_key(question):
            return "answer_copies_question", "the answer repeats the question"
    for t in texts:
        if copied(t, passage):
            return "copied_passage", "a text copies the passage instead of writing a task"
    lang = detect_language(" ".join(texts))
    if lang != "fr":
        return "not_french", f"language detected: {lang}"
    return None


def copied_example(kind: Kind, obj: dict[str, Any]) -> tuple[str, str] | None:
    """A small model shown a worked example tends to hand it back for every passage: the question, or two
    or more options, of an example repeated make the item a copy, not a task about the passage."""
    for n, ex in enumerate(kind.examples, 1):
        item = ex["item"]
        if match_key(str(obj.get("question", ""))) == match_key(str(item.get("question", ""))):
            return "copied_example", f"the question of worked example {n}"
        theirs = {match_key(str(v)) for v in (item.get("options") or {}).values()}
        ours = [match_key(str(v)) for v in (obj.get("options") or {}).values()]
        if sum(o in theirs for o in ours) >= 2:
            return "copied_example", f"options of worked example {n}"
    return None


class Synthesizer:
    def __init__(self, model: str, kinds: list[Kind], *, temperature: float = 0.7, max_tokens: int | None = None):
        self.model, self.kinds, self.temperature, self.max_tokens = model, kinds, temperature, max_tokens

    def request(self, item: Item) -> ChatRequest:
        k = item.kind
        return ChatRequest(messages=k.messages(item.passage.text), max_tokens=self.max_tokens or k.max_tokens,
                           temperature=self.temperature, json_schema=k.schema(), seed=item.n, tag=item.id)

    def check(self, item: Item, resp: ChatResponse) -> Outcome:
        if resp.text is None:
            return Outcome(reason="request_failed", detail=resp.error or "")
        if resp.error:
            reason, _, detail = resp.error.partition(": ")
            return Outcome(reason=reason, detail=detail, raw=resp.text)
        problem = check_item(item.kind, resp.parsed, item.passage.text) or copied_example(item.kind, resp.parsed)
        if problem:
            return Outcome(reason=problem[0], detail=problem[1], raw=resp.text)
        return Outcome(records=[self.to_record(item, resp)])

    def to_record(self, item: Item, resp: ChatResponse) -> Record:
        obj, k, p = resp.parsed, item.kind, item.passage
        if k.writes_options:
            options = {L: str(obj["options"][L]).strip() for L in LETTERS5}
            answer: list[str] | str = [str(a).strip().upper() for a in obj["answer"]]
        else:
            options, answer = {}, obj["answer"].strip()
        return Record(
            id=item.id, task=record_task(k, answer), question=obj["question"].strip(), options=options,
            answer=answer, context=p.text if k.context else None, instruction=k.instruction,
            origin=Origin.SYNTHETIC, source=p.source, split="train", lang="fr", parent_id=p.id,
            meta={"stage": "synthesize", "kind": k.name, "model": self.model, "prompt_version": k.version,
                  "usage": resp.usage, "raw": resp.text},
        )

    def job(self, fingerprint: dict[str, Any]) -> Job:
        return Job("synthesize", item_id=lambda it: it.id, request=self.request, check=self.check,
                   describe_input=lambda it: {"passage_id": it.passage.id, "kind": it.kind.name},
                   fingerprint=fingerprint)


def plan_items(passages: list[Passage], kinds: list[Kind], per_passage: int = 1) -> list[Item]:
    return [Item(p, k, n) for p in passages for k in kinds for n in range(per_passage)]


def run_synthesize(passages_path: str | Path, out_path: str | Path, backend: Backend | BackendSpec | dict, *,
                   kinds: list[str] | None = None, kinds_dir: str | Path | None = None, per_passage: int = 1,
                   limit: int | None = None, temperature: float = 0.7, max_tokens: int | None = None,
                   rejected_path: str | Path | None = None, max_chars: int | None = None, progress: bool = True,
                   log=None) -> dict[str, Any]:
    """Generate tasks of each kind from each passage into `out_path` (+ rejected file and summary). Resumable.

    `max_chars` leaves out passages longer than that (before `limit` applies): a small model's cost grows
    with the prompt, and its output degrades on long ones. They are counted in the summary."""
    passages = list(read_passages(passages_path))
    too_long = 0
    if max_chars:
        kept = [p for p in passages if len(p.text) <= max_chars]
        too_long, passages = len(passages) - len(kept), kept
    if limit:
        passages = passages[:limit]
    if not passages:
        raise MedinjectError(f"{passages_path}: no passages" + (f" of at most {max_chars} characters" if max_chars
                                                                 else ""))
    chosen = load_kinds(kinds, kinds_dir)
    be, owned = _backend(backend)
    try:
        syn = Synthesizer(be.model, chosen, temperature=temperature, max_tokens=max_tokens)
        fingerprint = {"model": be.model, "kinds": {k.name: k.version for k in chosen}, "input": str(passages_path),
                       "input_sha256": sha256_file(passages_path), "limit": limit, "per_passage": per_passage,
                       "temperature": temperature, "max_tokens": max_tokens}
        if max_chars:  # part of the fingerprint, so it is in the summary too
            fingerprint.update(max_chars=max_chars, passages_too_long=too_long)
        summary = run_job(syn.job(fingerprint), plan_items(passages, chosen, per_passage), be, out_path,
                          rejected_path=rejected_path, progress=progress, log=log)
    finally:
        if owned:
            be.close()
    pooled = {k.name for k in chosen if k.distractors == "pool"}
    return _draw_distractors(summary, out_path, pooled) if pooled else summary


def _draw_distractors(summary: dict[str, Any], out_path: str | Path, kinds: set[str]) -> dict[str, Any]:
    """Turn the pooled kinds' question-answer records into MCQs, in place, and account for those left out."""
    from ..backends.jobs import sidecar_paths
    from ..io import load_records, write_json, write_records
    from .distractors import pooled_mcq

    records, rejected = pooled_mcq(load_records(out_path), kinds)
    write_records(out_path, records)
    reasons = dict(summary["rejected_by_reason"])
    for reason, n in rejected.items():
        reasons[reason] = reasons.get(reason, 0) + n
    left_out = sum(rejected.values())
    summary = {**summary, "accepted": summary["accepted"] - left_out, "rejected": summary["rejected"] + left_out,
               "records": len(records), "rejected_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
               "distractors": {"kinds": sorted(kinds), "drawn_from": "answers of the other items of the kind"}}
    write_json(sidecar_paths(Path(out_path))[1], summary)
    return summary
