"""Multiple-choice items whose wrong options are other items' answers (`distractors: pool` in a kind file).

A model too small to write five distinct options (SmolLM2-135M, measured: 8 of 16 MORFITT items had two
options alike, 4 more handed back the worked example) can still write a question and its short answer. The
four distractors are then drawn, seeded by the item's id, from the answers written for the other passages of
the same kind: a classic way of making MCQs (answers from a pool, as in cloze and quiz generators), which keeps
every option a real, fluent answer to *some* question. The correct letter is drawn too, so that no position
is favoured.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from ..records import Record, Task
from ..textnorm import match_key
from .kinds import LETTERS5

NEEDED = len(LETTERS5)  # one correct answer and four distractors


def pooled_mcq(records: list[Record], kinds: set[str], seed: int = 0) -> tuple[list[Record], dict[str, int]]:
    """Records of `kinds` (question + answer) turned into five-option MCQU items; the others unchanged.

    Returns (records, rejected count by reason). An item is left out when its kind's pool holds fewer than
    five distinct answers, since four distractors different from its own answer cannot be drawn."""
    pools: dict[str, dict[str, str]] = {}
    for r in records:
        if r.meta.get("kind") in kinds:
            pools.setdefault(r.meta["kind"], {}).setdefault(match_key(str(r.answer)), str(r.answer))
    out, rejected = [], {}
    for r in records:
        kind = r.meta.get("kind")
        if kind not in kinds:
            out.append(r)
            continue
        own = match_key(str(r.answer))
        others = sorted(v for k, v in pools[kind].items() if k != own)
        if len(others) < NEEDED - 1:
            rejected["too_few_answers"] = rejected.get("too_few_answers", 0) + 1
            continue
        rng = random.Random(int(hashlib.sha256(f"{seed}:{r.id}".encode()).hexdigest()[:16], 16))
        texts = rng.sample(others, NEEDED - 1)
        right = rng.randrange(NEEDED)
        texts.insert(right, str(r.answer))
        meta: dict[str, Any] = {**r.meta, "distractors": "pool", "answer_text": str(r.answer)}
        out.append(Record.model_validate({**r.model_dump(), "task": Task.MCQU, "answer": [LETTERS5[right]],
                                          "options": dict(zip(LETTERS5, texts, strict=True)), "meta": meta}))
    return out, rejected
