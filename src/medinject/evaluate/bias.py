"""Answer-order bias: reordered copies of multiple-choice items, and the metrics computed over them.

A reordered copy shows the same option texts under new letters; its gold letters are remapped and its
`order` lists, for each displayed letter, the original letter it shows. Permutations are seeded per item
(seed, item id, draw), so they do not depend on which other items are evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..hashing import stable_int
from ..records import Record, letters_for
from .references import order_policy


def reorder(record: Record, order: Sequence[str]) -> Record:
    """`record` with option `order[i]` shown under the i-th letter."""
    shown = letters_for(len(order))
    new_of = dict(zip(order, shown, strict=True))
    return record.model_copy(update={
        "options": {new: record.options[old] for old, new in zip(order, shown, strict=True)},
        "answer": sorted(new_of[a] for a in record.letters),
    })


def _movable(record: Record) -> tuple[list[str], list[str]]:
    """(letters that may move, letters that stay at the end): see `references.order_policy`."""
    policy, movable = order_policy(record)
    return movable, list(record.options)[len(movable):] if policy != "left_out" else []


def permutations(record: Record, k: int, seed: int) -> list[list[str]]:
    """K seeded random orders of the options, each different from the original order (when possible).

    Options that refer to all the others stay at the end; an item whose options refer to letters or
    positions has no permutation (`references`).
    """
    letters, tail = _movable(record)
    if len(letters) < 2:
        return []
    rng = np.random.default_rng([seed, stable_int(record.source, record.id)])
    out = []
    for _ in range(k):
        order = letters
        for _ in range(100):  # a 2-option item is its own reversal half of the time
            order = [letters[j] for j in rng.permutation(len(letters))]
            if order != letters:
                break
        out.append(order + tail)
    return out


def rotations(record: Record) -> list[list[str]]:
    """The non-trivial cyclic rotations of the movable options (rotation r shows original option r+i at
    position i); none for an item left out of order variants."""
    letters, tail = _movable(record)
    return [letters[r:] + letters[:r] + tail for r in range(1, len(letters))] if len(letters) >= 2 else []


def order_counts(records: Sequence[Record]) -> dict:
    """How many multiple-choice items keep options in place or are left out of the order variants, and which."""
    kept, left = [], []
    for r in records:
        if r.is_choice:
            policy, _ = order_policy(r)
            (kept if policy == "fixed_tail" else left if policy == "left_out" else []).append(r.id)
    return {"options_kept_in_place": len(kept), "items_left_out": len(left), "kept_ids": kept, "left_out_ids": left}


def variants(records: Sequence[Record], *, permute: int = 0, circular: bool = False, seed: int = 0
             ) -> tuple[list[Record], list[dict]]:
    """The reordered copies to evaluate beside the originals: `perm-1..K`, then `rot-1..n-1`."""
    out, info = [], []
    for r in records:
        if not r.is_choice:
            continue
        for j, order in enumerate(permutations(r, permute, seed), start=1):
            out.append(reorder(r, order))
            info.append({"variant": f"perm-{j}", "order": order})
        if circular:
            for j, order in enumerate(rotations(r), start=1):
                out.append(reorder(r, order))
                info.append({"variant": f"rot-{j}", "order": order})
    return out, info


def letter_recall_counts(rows: Sequence[dict], letters: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row and letter: (gold contains it and prediction too, gold contains it)."""
    hits = np.zeros((len(rows), len(letters)))
    golds = np.zeros((len(rows), len(letters)))
    col = {x: j for j, x in enumerate(letters)}
    for i, row in enumerate(rows):
        pred = {x.upper() for x in row.get("pred") or ()}
        for g in row["gold"]:
            g = g.upper()
            golds[i, col[g]] = 1
            hits[i, col[g]] = g in pred
    return hits, golds

