"""Decontamination: no training item may reappear from an evaluation set, verbatim, edited or embedded.

Three tests on question plus options, cheapest first: the same normalised text; long word n-grams
(`eval_ngram` words) shared with one evaluation item, covering at least `eval_containment` of that item's
n-grams (catches an item pasted inside a longer one); MinHash similarity above `eval_threshold`
(catches reordered options and edited words). An n-gram found in two or more evaluation items is exam
boilerplate ("parmi les propositions suivantes, laquelle est exacte"), not an item's identity, so it is
left out: one shared template phrase must not flag a training record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import read_records
from .filters import Reject
from .minhash import MinHasher, band_keys, has_signature, lsh_params
from .settings import CurateSettings
from .text import item_text, ngram_hashes, stable_hash


@dataclass
class EvalIndex:
    """Everything the workers need about the evaluation items; small enough to copy to each process."""

    files: list[str]
    item_file: np.ndarray  # index into files, per evaluation item
    item_ids: list[str]
    exact: dict[int, int]  # normalised-text hash -> item
    ngram_keys: np.ndarray  # sorted n-gram hashes, each found in exactly one item
    ngram_items: np.ndarray  # the item of each n-gram hash
    ngram_counts: np.ndarray  # per item, how many such n-grams it has
    sig: np.ndarray  # (items, num_perm)
    band_sorted: list[tuple[np.ndarray, np.ndarray]]  # per band: sorted keys, their items
    bands: int
    rows: int

    def __len__(self) -> int:
        return len(self.item_ids)

    def describe(self, item: int) -> dict:
        return {"eval_file": self.files[self.item_file[item]], "eval_id": self.item_ids[item]}


def build_eval_index(paths, settings: CurateSettings, hasher: MinHasher) -> EvalIndex | None:
    paths = [Path(p) for p in paths]
    if not paths:
        return None
    texts, ids, owners = [], [], []
    for i, path in enumerate(paths):
        for record in read_records(path):
            texts.append(item_text(record))
            ids.append(record.id)
            owners.append(i)
    exact: dict[int, int] = {}
    for j, t in enumerate(texts):
        exact.setdefault(stable_hash(t), j)
    ngram_keys, ngram_items = _distinctive_ngrams(texts, settings.eval_ngram)
    sh, so = ngram_hashes(texts, settings.shingle_size)
    sig = hasher.signatures(sh, so)
    bands, rows = lsh_params(settings.eval_threshold, settings.num_perm, tuple(settings.lsh_weights))
    keys = band_keys(sig, bands, rows)
    ok = has_signature(sig)
    band_sorted = []
    for b in range(bands):
        items = np.flatnonzero(ok)
        o = np.argsort(keys[items, b], kind="stable")
        band_sorted.append((keys[items, b][o], items[o]))
    return EvalIndex([str(p) for p in paths], np.array(owners, dtype=np.int32), ids, exact, ngram_keys, ngram_items,
                     np.bincount(ngram_items, minlength=len(texts)), sig, band_sorted, bands, rows)


def _unique_pairs(h: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hash, owner) with each n-gram counted once per text, sorted by hash."""
    owner = np.repeat(np.arange(len(off) - 1), np.diff(off))
    order = np.lexsort((owner, h))
    h, owner = h[order], owner[order]
    keep = np.concatenate(([True], (h[1:] != h[:-1]) | (owner[1:] != owner[:-1])))
    return h[keep], owner[keep]


def _distinctive_ngrams(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    h, owner = _unique_pairs(*ngram_hashes(texts, n, whole_if_short=False))
    first = np.concatenate(([True], h[1:] != h[:-1]))
    last = np.concatenate((h[1:] != h[:-1], [True]))
    alone = first & last  # the hash occurs in one item only
    return h[alone], owner[alone]


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions in `keys` that occur in `sorted_keys`, where they occur there)."""
    if not len(sorted_keys) or not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    hit = np.flatnonzero(sorted_keys[pos] == keys)
    return hit, pos[hit]


def find_contamination(index: EvalIndex, texts: list[str], exact_keys: list[int], sig: np.ndarray,
                       settings: CurateSettings) -> list[Reject | None]:
    """One verdict per training text (normalised question plus options) with its signature."""
    n = len(texts)
    out: list[Reject | None] = [None] * n

    def flag(i: int, item: int, method: str, score: float) -> None:
        if out[i] is None:
            out[i] = Reject("contaminated", {**index.describe(item), "method": method, "score": score})

    for i, key in enumerate(exact_keys):
        item = index.exact.get(key)
        if item is not None:
            flag(i, item, "exact", 1.0)

    h, owner = _unique_pairs(*ngram_hashes(texts, settings.eval_ngram, whole_if_short=False))
    hit, pos = _lookup(index.ngram_keys, h)
    if len(hit):
        m = len(index)
        pair, shared = np.unique(owner[hit] * m + index.ngram_items[pos], return_counts=True)
        rec, item = pair // m, pair % m
        cover = shared / np.maximum(index.ngram_counts[item], 1)
        best: dict[int, tuple[float, int]] = {}
        for i, it, c in zip(rec.tolist(), item.tolist(), cover.tolist(), strict=True):
            if c >= settings.eval_containment and c > best.get(i, (-1.0, -1))[0]:
                best[i] = (c, it)
        for i, (c, it) in sorted(best.items()):
            flag(i, it, f"{settings.eval_ngram}-gram", round(c, 3))

    keys = band_keys(sig, index.bands, index.rows)
    ok = has_signature(sig)
    pairs = []
    for b, (sorted_keys, items) in enumerate(index.band_sorted):
        rows = np.flatnonzero(ok)
        hit, pos = _lookup(sorted_keys, keys[rows, b])
        # Every evaluation item in the bucket, not just the first (buckets are tiny on the eval side).
        for r, p in zip(rows[hit].tolist(), pos.tolist(), strict=True):
            q = p
            while q < len(sorted_keys) and sorted_keys[q] == sorted_keys[p]:
                pairs.append((r, int(items[q])))
                q += 1
    if pairs:
        left, right = np.array(sorted(set(pairs))).T
        sim = (sig[left] == index.sig[right]).mean(axis=1)
        best: dict[int, tuple[float, int]] = {}
        for i, item, s in zip(left.tolist(), right.tolist(), sim.tolist(), strict=True):
            if s >= settings.eval_threshold and s > best.get(i, (-1.0, -1))[0]:
                best[i] = (s, item)
        for i, (s, item) in best.items():
            flag(i, item, "near_duplicate", round(s, 3))
    return out
