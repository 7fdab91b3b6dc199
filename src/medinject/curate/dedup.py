"""Exact and near duplicates, resolved by provenance: native beats translated beats synthetic, then first seen.

Both functions take arrays indexed by record *rank* (sorted by origin priority, then input position), so
"the better copy" is always the lower row number.
"""

from __future__ import annotations

import numpy as np

from .minhash import candidate_pairs, estimate


def rank_order(priority: np.ndarray) -> np.ndarray:
    """Input positions sorted by (origin priority, position)."""
    return np.lexsort((np.arange(len(priority)), priority))


def exact_duplicates(keys: np.ndarray) -> np.ndarray:
    """For each row (in rank order), the row it duplicates exactly, or -1 for the first of its kind."""
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    same = np.concatenate(([False], ks[1:] == ks[:-1]))
    first = order[np.maximum.accumulate(np.where(same, 0, np.arange(len(ks))))]
    dup_of = np.full(len(keys), -1, dtype=np.int64)
    dup_of[order[same]] = first[same]
    return dup_of


def near_duplicates(sig: np.ndarray, keys: np.ndarray, active: np.ndarray, threshold: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(dup_of, similarity) per row in rank order; -1 where the row is kept.

    A row is dropped when it is similar enough (estimated Jaccard >= threshold) to a better-ranked row
    that is itself kept. Candidates come from LSH buckets and are checked on the full signatures, so
    the banding only decides what gets compared, never what gets removed.
    """
    n = len(sig)
    dup_of = np.full(n, -1, dtype=np.int64)
    similarity = np.zeros(n, dtype=np.float32)
    lo, hi = candidate_pairs(keys, active)
    if not len(lo):
        return dup_of, similarity
    sim = estimate(sig, lo, hi)
    good = sim >= threshold
    lo, hi, sim = lo[good], hi[good], sim[good]
    order = np.lexsort((lo, hi))  # by the worse row, then the better one
    removed = np.zeros(n, dtype=bool)
    for a, b, s in zip(lo[order].tolist(), hi[order].tolist(), sim[order].tolist(), strict=True):
        # Rows are visited in rank order, so `removed[a]` is final by the time `b` is decided.
        if not removed[b] and not removed[a]:
            removed[b] = True
            dup_of[b] = a
            similarity[b] = s
    return dup_of, similarity
