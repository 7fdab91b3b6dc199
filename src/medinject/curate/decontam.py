"""Decontamination: no training item may reappear from an evaluation set, verbatim, edited or embedded.

Every evaluation item is read as its question, context and options, and a multiple-choice item also as
the open question it could be recast to (question and the text of its correct options), against each
training item's question, context and options (or answer). Three tests, cheapest first: the same
normalised text; long word n-grams (`eval_ngram` words) shared with one evaluation item, covering at
least `eval_containment` of that item's n-grams (catches an item pasted inside a longer one); Jaccard
similarity of the near-duplicate shingles of at least `eval_threshold` (catches reordered options and
edited words). The last test finds its candidates with MinHash LSH tuned below the threshold, then
computes the exact Jaccard of each candidate pair: a leaked test item must not slip through on the
estimate's noise.

An n-gram found in more than 1% of the evaluation items (and at least 3) is exam boilerplate ("parmi les
propositions suivantes, laquelle est exacte"), not an item's identity, so it is left out of the test.
Rarer sharing stays in: several questions about one clinical case legitimately share its sentences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import read_records
from .filters import Reject
from .minhash import MinHasher, band_keys, has_signature, lsh_params
from .settings import CurateSettings
from .text import item_segments, item_text, ngram_hashes, open_form, segmented_ngram_hashes, stable_hash


@dataclass
class EvalIndex:
    """Everything the workers need about the evaluation items; small enough to copy to each process."""

    files: list[str]
    item_file: np.ndarray  # index into files, per evaluation item
    item_ids: list[str]
    answers: list[str | None]  # per entry: for the open form of a multiple-choice item, its normalised answer
    exact: dict[int, int]  # normalised-text hash -> item
    ngram_keys: np.ndarray  # sorted n-gram hashes (repeated when several items have one)
    ngram_items: np.ndarray  # the item of each entry
    ngram_counts: np.ndarray  # per item, how many such n-grams it has
    shingles: list[np.ndarray]  # per item, its sorted unique shingle hashes
    sig: np.ndarray  # (items, num_perm) MinHash signatures
    band_keys: np.ndarray  # every item's LSH keys of every band, sorted (keys of different bands never collide)
    band_items: np.ndarray  # the item of each key
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
    texts, segments, ids, owners, groups, answers = [], [], [], [], [], []
    item = 0
    for i, path in enumerate(paths):
        for record in read_records(path):
            forms = [(item_text(record), item_segments(record))]
            recast = open_form(record)
            if recast is not None:
                forms.append(recast)
            for k, (text, segs) in enumerate(forms):  # each form is an entry of its own, naming the same item
                answers.append(segs[-1] if k > 0 else None)
                texts.append(text)
                segments.append(segs)
                ids.append(record.id)
                owners.append(i)
                groups.append(item)
            item += 1
    exact: dict[int, int] = {}
    for j, t in enumerate(texts):
        exact.setdefault(stable_hash(t), j)
    ngram_keys, ngram_items = _distinctive_ngrams(texts, settings.eval_ngram, np.array(groups, dtype=np.int64))
    sh, so = segmented_ngram_hashes(segments, settings.shingle_size)
    sig = hasher.signatures(sh, so)
    bands, rows = lsh_params(candidate_threshold(settings), settings.num_perm, tuple(settings.lsh_weights))
    items = np.flatnonzero(has_signature(sig))
    keys = band_keys(sig[items], bands, rows).ravel()
    owner = np.repeat(items, bands)
    order = np.argsort(keys, kind="stable")
    return EvalIndex([str(p) for p in paths], np.array(owners, dtype=np.int32), ids,
                     answers, exact, ngram_keys, ngram_items,
                     np.bincount(ngram_items, minlength=len(texts)),
                     [np.unique(sh[so[i]:so[i + 1]]) for i in range(len(texts))], sig, keys[order], owner[order],
                     bands, rows)


def candidate_threshold(settings: CurateSettings) -> float:
    return max(0.2, settings.eval_threshold - 0.15)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique hash arrays."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def _unique_pairs(h: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hash, owner) with each n-gram counted once per text, sorted by hash."""
    owner = np.repeat(np.arange(len(off) - 1), np.diff(off))
    order = np.lexsort((owner, h))
    h, owner = h[order], owner[order]
    keep = np.concatenate(([True], (h[1:] != h[:-1]) | (owner[1:] != owner[:-1])))
    return h[keep], owner[keep]


def _matches(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (position in `keys`, position in `sorted_keys`) with equal values."""
    if not len(sorted_keys) or not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo = np.searchsorted(sorted_keys, keys, side="left")
    hit = np.flatnonzero(sorted_keys[np.minimum(lo, len(sorted_keys) - 1)] == keys)  # few: search again only those
    lo = lo[hit]
    span = np.searchsorted(sorted_keys, keys[hit], side="right") - lo
    which = np.repeat(hit, span)
    return which, np.repeat(lo, span) + (np.arange(len(which)) - np.repeat(np.cumsum(span) - span, span))


def _distinctive_ngrams(texts: list[str], n: int, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hash, entry) pairs, sorted by hash, without the n-grams that too many items share (`groups`: the
    item of each entry; two forms of one item count once)."""
    h, owner = _unique_pairs(*ngram_hashes(texts, n, whole_if_short=False))
    n_items = int(groups[-1]) + 1 if len(groups) else 0
    max_items = max(2, math.ceil(0.01 * n_items))
    starts = np.flatnonzero(np.concatenate(([True], h[1:] != h[:-1])))
    run = np.repeat(np.arange(len(starts)), np.diff(np.concatenate((starts, [len(h)]))))
    # Items per n-gram: distinct (n-gram, item) pairs, counted per n-gram.
    pairs = np.unique(np.stack((run, groups[owner])), axis=1)
    df = np.bincount(pairs[0], minlength=len(starts))
    keep = df[run] <= max_items
    return h[keep], owner[keep]


def find_contamination(index: EvalIndex, texts: list[str], exact_keys: list[int],
                       shingles: tuple[np.ndarray, np.ndarray], sig: np.ndarray, settings: CurateSettings,
                       answers: list[str | None] | None = None) -> list[Reject | None]:
    """One verdict per training item: its normalised question, context and options (or answer), their
    exact key, its shingle hashes (concatenated, with offsets), its MinHash signature, and for an open
    question its normalised answer (`answers`, None for a multiple-choice item).

    The open form of an evaluation item only counts against an open question whose answer holds the
    correct option's text (or is held in it): a passage quoting the question's sentences, or a
    multiple-choice item sharing its stem and one option, is not that item recast."""
    n = len(texts)
    out: list[Reject | None] = [None] * n

    def allowed(i: int, item: int) -> bool:
        key = index.answers[item]
        if key is None:
            return True
        answer = answers[i] if answers is not None else None
        return bool(answer) and (f" {key} " in f" {answer} " or f" {answer} " in f" {key} ")

    def flag(i: int, item: int, method: str, score: float) -> None:
        if out[i] is None and allowed(i, item):
            out[i] = Reject("contaminated", {**index.describe(item), "method": method, "score": score})

    for i, key in enumerate(exact_keys):
        item = index.exact.get(key)
        if item is not None:
            flag(i, item, "exact", 1.0)

    m = len(index)
    h, off = ngram_hashes(texts, settings.eval_ngram, whole_if_short=False)
    which, entries = _matches(index.ngram_keys, h)  # each n-gram found counts for every item that has it
    if len(which):
        owner = np.searchsorted(off, which, side="right") - 1
        # A repeated n-gram counts once per (record, item): unique on (record, item, hash) first.
        triples = np.unique(np.stack((owner, index.ngram_items[entries], h[which].view(np.int64))), axis=1)
        pair, shared = np.unique(triples[0] * m + triples[1], return_counts=True)
        rec, item = pair // m, pair % m
        cover = shared / np.maximum(index.ngram_counts[item], 1)
        best: dict[int, tuple[float, int]] = {}
        for i, it, c in zip(rec.tolist(), item.tolist(), cover.tolist(), strict=True):
            if c >= settings.eval_containment and c > best.get(i, (-1.0, -1))[0] and allowed(i, it):
                best[i] = (c, it)
        for i, (c, it) in sorted(best.items()):
            flag(i, it, f"{settings.eval_ngram}-gram", round(c, 3))

    rows = np.flatnonzero(has_signature(sig))
    which, pos = _matches(index.band_keys, band_keys(sig[rows], index.bands, index.rows).ravel())
    pair = np.unique(rows[which // index.bands] * m + index.band_items[pos])
    left, right = pair // m, pair % m
    # The signature estimate screens the candidates (4 standard errors below the threshold); the exact
    # Jaccard decides.
    est = (sig[left] == index.sig[right]).mean(axis=1) if len(pair) else np.zeros(0)
    margin = 4 * (settings.eval_threshold * (1 - settings.eval_threshold) / sig.shape[1]) ** 0.5
    keep = est >= settings.eval_threshold - margin
    h, off = shingles
    best = {}
    for i, item in zip(left[keep].tolist(), right[keep].tolist(), strict=True):
        if out[i] is not None or not allowed(i, item):
            continue
        sim = jaccard(np.unique(h[off[i]:off[i + 1]]), index.shingles[item])
        if sim >= settings.eval_threshold and sim > best.get(i, (-1.0, -1))[0]:
            best[i] = (sim, item)
    for i, (sim, item) in sorted(best.items()):
        flag(i, item, "near_duplicate", round(sim, 3))
    return out
