"""Offline language identification: a record must be written in the language it declares.

The model is py3langid's (langid.py's naive Bayes over byte n-grams). Its `classify` walks a DFA over
the bytes of one text in a Python loop, which alone would cost about a minute per 500K records, so
`BatchIdentifier` walks the same DFA over a whole batch of texts in lockstep with numpy and scores
them with one sparse matrix product. Its decisions equal py3langid's (tested).
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache

import numpy as np

from ..errors import MedinjectError
from ..records import Record
from .filters import Reject
from .settings import CurateSettings

# The detector reads this much of the text: enough to decide, and its cost grows with the length.
SAMPLE_CHARS = 200


@lru_cache(maxsize=1)
def _full_identifier():
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise MedinjectError("language checks need py3langid: pip install 'medinject[curate]'") from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)  # decompressing takes a second


@lru_cache(maxsize=1)
def known_languages() -> frozenset[str]:
    return frozenset(_full_identifier().labels)


@lru_cache(maxsize=8)
def identifier(languages: tuple[str, ...]):
    """py3langid's identifier restricted to `languages` (probabilities normalised)."""
    ident = copy.copy(_full_identifier())  # `set_languages` slices the shared full model, never changes it
    ident.set_languages(list(languages))
    return ident


class BatchIdentifier:
    def __init__(self, languages: tuple[str, ...]):
        ident = identifier(languages)
        self._encode = ident._encode
        self.nextmove = np.frombuffer(ident.tk_nextmove, dtype=np.uint32)
        self.rowbase = np.asarray(ident._rowbase, dtype=np.int64)
        self.output = np.asarray(ident.tk_output, dtype=np.int64)
        self.ptc = np.asarray(ident.nb_ptc, dtype=np.float32)
        self.pc = np.asarray(ident.nb_pc, dtype=np.float32)
        self.classes = list(ident.nb_classes)
        self.alias_pairs = list(ident._alias_pairs)

    def classify(self, texts: list[str]) -> list[tuple[str, float]]:
        """(language, probability) per text, as py3langid's `classify` would answer."""
        import scipy.sparse as sp

        n = len(texts)
        if n == 0:
            return []
        encoded = [self._encode(t) for t in texts]
        lengths = np.array([len(e) for e in encoded], dtype=np.int64)
        width = int(lengths.max()) if n else 0
        grid = np.zeros((n, max(width, 1)), dtype=np.int64)
        rows = np.repeat(np.arange(n), lengths)
        cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        grid[rows, cols] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        state = np.zeros(n, dtype=np.int64)
        hit_rows, hit_feats = [], []
        for j in range(width):
            state = self.nextmove[self.rowbase[state] + grid[:, j]].astype(np.int64)
            feat = self.output[state]
            m = np.flatnonzero((feat >= 0) & (j < lengths))
            hit_rows.append(m)
            hit_feats.append(feat[m])
        r = np.concatenate(hit_rows)
        f = np.concatenate(hit_feats)
        nf = len(self.output)
        keys, counts = np.unique(r * nf + f, return_counts=True)
        x = sp.csr_matrix((np.log1p(counts.astype(np.float32)), (keys // nf, keys % nf)), shape=(n, self.ptc.shape[0]))
        scores = np.asarray(x @ self.ptc, dtype=np.float32) + self.pc
        scores[np.diff(x.indptr) == 0] = 0.0  # no feature at all: py3langid abstains with a flat score
        scores *= np.array([1.0 / math.sqrt(k or 1) for k in lengths], dtype=np.float32)[:, None]
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
        for i, j in self.alias_pairs:
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        best = scores.argmax(axis=1)
        return [(self.classes[b], float(scores[k, b])) for k, b in enumerate(best.tolist())]


@lru_cache(maxsize=8)
def batch_identifier(languages: tuple[str, ...]) -> BatchIdentifier:
    return BatchIdentifier(languages)


def language_text(record: Record) -> str:
    parts = [record.question, *record.options.values()]
    if not record.is_choice:
        parts.append(str(record.answer))
    # The model reads capitals poorly; it lower-cases all-caps input itself, but not a mix of fields.
    return " ".join(p.lower() if p.isupper() else p for p in parts)[:SAMPLE_CHARS]


def check_languages(records: list[Record], settings: CurateSettings) -> list[Reject | None]:
    """One verdict per record; texts shorter than `lang_min_chars` and unknown languages are not judged."""
    out: list[Reject | None] = [None] * len(records)
    known = known_languages()
    base = {x for x in settings.languages if x in known}
    groups: dict[str, list[int]] = {}
    texts = [language_text(r) for r in records]
    for i, r in enumerate(records):
        if len(texts[i]) >= settings.lang_min_chars and r.lang in known:
            groups.setdefault(r.lang, []).append(i)
    for lang, idx in groups.items():
        # The candidates depend on the declared language only, never on the batch: results stay deterministic.
        found = batch_identifier(tuple(sorted(base | {lang}))).classify([texts[i] for i in idx])
        for i, (got, prob) in zip(idx, found, strict=True):
            if got != lang:
                out[i] = Reject("wrong_language", {"declared": lang, "detected": got, "probability": round(prob, 3)})
    return out


def check_language(record: Record, settings: CurateSettings) -> Reject | None:
    return check_languages([record], settings)[0]
