"""Text normalisation, stable hashes and vectorised word n-gram hashing shared by the curation filters.

Python's `hash()` changes between processes, so every hash here is derived from the bytes alone: the
same text gives the same value in every worker and every run, which keeps curation deterministic.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from ..records import Record
from ..textnorm import loose_key

U64 = np.uint64
_MASK64 = (1 << 64) - 1
# An odd multiplier, so that it has an inverse modulo 2**64 (see `_powers`).
_BASE = 0x9E3779B97F4A7C15


@lru_cache(maxsize=1 << 15)  # the filters, the keys and the signature all read the same fields
def normalise(text: str | None) -> str:
    """Case, accents, punctuation, spacing and invisible characters folded away (`textnorm.loose_key`)."""
    return loose_key(text)


def stable_hash(text: str) -> int:
    """A 64-bit hash of a string that is the same in every process (as a signed int64 for numpy)."""
    v = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    return v - (1 << 64) if v >= 1 << 63 else v


def item_text(record: Record) -> str:
    """What the contamination tests read, normalised, as one text: the question, then the context (a
    question moved into `context` under a generic instruction reads on as it did), then the options, or
    for an open question its answer."""
    rest = record.options.values() if record.is_choice else [str(record.answer)]
    return " ".join(filter(None, (normalise(t) for t in (record.question, record.context, *rest))))


def open_form(record: Record) -> tuple[str, list[str]] | None:
    """A multiple-choice item as the open question it could be recast to (its question, context and the
    text of its correct options): (contamination text, near-duplicate segments: question and answer), or
    None."""
    if not record.is_choice:
        return None
    answer = " ".join(record.options[k] for k in record.letters if k in record.options)
    if not answer.strip():
        return None
    text = " ".join(filter(None, (normalise(t) for t in (record.question, record.context, answer))))
    return text, [normalise(record.question), normalise(answer)]


def item_segments(record: Record) -> list[str]:
    """What the near-duplicate signature reads, normalised, one segment per field: the question and each
    option, or for an open question the question and its answer (the answer is to an open question what
    the options are to a multiple-choice one). Shingles never span two segments, so reordering the options
    leaves the shingle set unchanged."""
    rest = record.options.values() if record.is_choice else [str(record.answer)]
    return [normalise(t) for t in (record.question, *rest)]


def context_text(record: Record) -> str:
    """Everything that distinguishes two items sharing a question: the passage and the instruction."""
    # Field by field, so the passage's normalisation is the one `item_text` already asked for (cached).
    return " ".join(filter(None, (normalise(record.context), normalise(record.instruction))))


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole word (vectorised, wraps mod 2**64)."""
    x = x.astype(U64, copy=True)
    x ^= x >> U64(30)
    x *= U64(0xBF58476D1CE4E5B9)
    x ^= x >> U64(27)
    x *= U64(0x94D049BB133111EB)
    x ^= x >> U64(31)
    return x


class _Powers:
    """BASE**i and BASE**-i modulo 2**64, grown on demand."""

    def __init__(self) -> None:
        inv = _BASE
        for _ in range(6):  # Newton's iteration doubles the correct bits each time
            inv = (inv * (2 - _BASE * inv)) & _MASK64
        assert (inv * _BASE) & _MASK64 == 1
        self._inv = inv
        self.pow = np.ones(1, dtype=U64)
        self.inv = np.ones(1, dtype=U64)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.pow) < n:
            size = max(n, 2 * len(self.pow))
            with np.errstate(over="ignore"):
                self.pow = np.concatenate(([U64(1)], np.cumprod(np.full(size - 1, _BASE, dtype=U64))))
                self.inv = np.concatenate(([U64(1)], np.cumprod(np.full(size - 1, self._inv, dtype=U64))))
        return self.pow[:n], self.inv[:n]


_POWERS = _Powers()


def ngram_hashes(texts: list[str], k: int, *, whole_if_short: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word k-grams of each normalised text, concatenated, with offsets (len(texts)+1).

    One pass of numpy over the joined bytes: a polynomial prefix hash gives any byte range's hash in O(1),
    and a k-gram is the byte range from its first word's start to its last word's end. A text with fewer
    than k words gives one n-gram of all its words when `whole_if_short`, none otherwise.
    """
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=U64), np.zeros(1, dtype=np.int64)
    data = np.frombuffer("\n".join(texts).encode("utf-8") + b"\n", dtype=np.uint8)
    sep = (data == 32) | (data == 10)
    word = ~sep
    starts = np.flatnonzero(word & np.concatenate(([True], sep[:-1])))
    ends = np.flatnonzero(word & np.concatenate((sep[1:], [True]))) + 1
    rec = np.cumsum(data == 10)[starts]  # newlines before a word's start = its text's index
    ntok = np.bincount(rec, minlength=n)
    first_tok = np.concatenate(([0], np.cumsum(ntok)))[:-1]

    last = np.arange(len(starts)) + (k - 1)
    ok = last < len(starts)
    ok[ok] = rec[last[ok]] == rec[ok]
    lo = starts[ok]
    hi = ends[last[ok]]
    owner = rec[ok]
    if whole_if_short:
        short = np.flatnonzero((ntok > 0) & (ntok < k))
        if len(short):
            lo = np.concatenate((lo, starts[first_tok[short]]))
            hi = np.concatenate((hi, ends[first_tok[short] + ntok[short] - 1]))
            owner = np.concatenate((owner, short))
            order = np.argsort(owner, kind="stable")
            lo, hi, owner = lo[order], hi[order], owner[order]

    pw, inv = _POWERS.upto(len(data) + 1)
    with np.errstate(over="ignore"):
        prefix = np.concatenate(([U64(0)], np.cumsum(data.astype(U64) * pw[: len(data)], dtype=U64)))
        h = (prefix[hi] - prefix[lo]) * inv[lo]
    offsets = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=n)))).astype(np.int64)
    return mix64(h), offsets


def segmented_ngram_hashes(segments: list[list[str]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Like `ngram_hashes` for texts made of segments (question, options): no n-gram crosses a segment."""
    flat = [seg for segs in segments for seg in segs]
    owner_of_segment = np.repeat(np.arange(len(segments)), [len(s) for s in segments])
    h, off = ngram_hashes(flat, k)
    owner = np.repeat(owner_of_segment, np.diff(off))  # segments are in record order, so owner is sorted
    offsets = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=len(segments))))).astype(np.int64)
    return h, offsets
