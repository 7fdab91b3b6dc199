"""MinHash signatures and LSH banding, vectorised with numpy.

datasketch's `MinHash.update` hashes one token per Python call and its `MinHashLSH` keeps a Python set per
band and key, which for 571K records costs minutes and gigabytes. Here a whole chunk of records is
signed with a few array operations, and band keys are plain uint64 columns that a sort groups. The
banding parameters still come from datasketch (`MinHashLSH(threshold, num_perm, weights).b/.r`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .text import U64, mix64

SIG_DTYPE = np.uint32
EMPTY = np.uint32(0xFFFFFFFF)  # signature of a text without words: matches nothing (see `has_signature`)


@lru_cache(maxsize=8)
def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.3, 0.7)) -> tuple[int, int]:
    """(bands, rows) minimising weighted false positives and negatives around `threshold`.

    Candidates are verified against the signatures afterwards, so misses cost more than extra candidates.
    """
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    return lsh.b, lsh.r


class MinHasher:
    """`num_perm` hash functions h(x) = a*x + b mod 2**64 on 64-bit n-gram hashes; the minimum's top 32 bits."""

    def __init__(self, num_perm: int = 128, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = (rng.integers(0, 2**63, num_perm, dtype=np.uint64) << U64(1)) | U64(1)
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)

    def signatures(self, hashes: np.ndarray, offsets: np.ndarray, block: int = 256) -> np.ndarray:
        """(n, num_perm) signatures for n texts given as concatenated n-gram hashes and offsets."""
        n = len(offsets) - 1
        sig = np.full((n, self.num_perm), EMPTY, dtype=SIG_DTYPE)
        a, b = self.a[:, None], self.b[:, None]
        counts = np.diff(offsets)
        for r0 in range(0, n, block):
            r1 = min(n, r0 + block)
            rows = r0 + np.flatnonzero(counts[r0:r1])
            if not len(rows):
                continue
            lo, hi = offsets[rows[0]], offsets[r1]
            with np.errstate(over="ignore"):
                vals = a * hashes[None, lo:hi]
                vals += b
            mins = np.minimum.reduceat(vals, offsets[rows] - lo, axis=1)
            sig[rows] = (mins >> U64(32)).T.astype(SIG_DTYPE)
        return sig


def has_signature(sig: np.ndarray) -> np.ndarray:
    return ~np.all(sig == EMPTY, axis=1)


def band_keys(sig: np.ndarray, bands: int, rows: int, salt: np.ndarray | None = None) -> np.ndarray:
    """(n, bands) uint64 keys; two texts share a key in band j when their rows of band j all agree.

    `salt` (one uint64 per text) is folded into every key, so that texts with different salts never
    meet: the dedup uses it to keep apart items that ask the same question about different passages.
    """
    n = sig.shape[0]
    keys = np.empty((n, bands), dtype=U64)
    with np.errstate(over="ignore"):
        for j in range(bands):
            h = np.full(n, U64(j + 1) * U64(0x9E3779B97F4A7C15), dtype=U64)
            for c in range(j * rows, (j + 1) * rows):
                h ^= sig[:, c].astype(U64)
                h *= U64(0x100000001B3)
            if salt is not None:
                h ^= salt.astype(U64)
            keys[:, j] = mix64(h)
    return keys


def estimate(sig: np.ndarray, left: np.ndarray, right: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Estimated Jaccard similarity of the pairs (left[i], right[i]): the share of agreeing signature rows."""
    out = np.empty(len(left), dtype=np.float32)
    for s in range(0, len(left), chunk):
        out[s:s + chunk] = (sig[left[s:s + chunk]] == sig[right[s:s + chunk]]).mean(axis=1)
    return out


def candidate_pairs(keys: np.ndarray, active: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (lo, hi), lo < hi, of rows sharing a key in some band.

    Rows are in priority order. Within a bucket each member is paired with the bucket's first member and
    with the member just before it (not with all of them): a bucket of m copies costs 2m pairs, not m²/2.
    """
    rows = np.arange(keys.shape[0]) if active is None else np.flatnonzero(active)
    pairs = []
    for j in range(keys.shape[1]):
        k = keys[rows, j]
        order = np.argsort(k, kind="stable")
        ks, ids = k[order], rows[order]
        same = np.concatenate(([False], ks[1:] == ks[:-1]))
        if not same.any():
            continue
        group_start = np.maximum.accumulate(np.where(same, 0, np.arange(len(ks))))
        leader = ids[group_start]
        member = np.flatnonzero(same)
        pairs.append(np.stack((leader[member], ids[member])))
        pairs.append(np.stack((ids[member - 1], ids[member])))
    if not pairs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    p = np.concatenate(pairs, axis=1).astype(np.int64)
    p = p[:, p[0] != p[1]]
    packed = np.unique(p[0] * keys.shape[0] + p[1])
    return packed // keys.shape[0], packed % keys.shape[0]
