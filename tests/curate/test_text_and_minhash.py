"""Normalisation, n-gram hashing and the vectorised MinHash, checked against plain Python and datasketch."""

from __future__ import annotations

import numpy as np
import pytest

from medinject.curate.dedup import exact_duplicates, near_duplicates
from medinject.curate.minhash import MinHasher, band_keys, candidate_pairs, estimate, lsh_params
from medinject.curate.text import ngram_hashes, normalise, segmented_ngram_hashes


def test_normalise_folds_case_accents_punctuation_and_spacing():
    assert normalise("  Le PARACÉTAMOL, à forte dose !  ") == "le paracetamol a forte dose"
    assert normalise("β-lactamase_(TEM)") == "β lactamase tem"
    assert normalise("Œdème") == "œdeme"
    assert normalise(None) == "" and normalise("?!") == ""


def _python_ngrams(text: str, k: int) -> list[str]:
    words = text.split()
    if 0 < len(words) < k:
        return [" ".join(words)]
    return [" ".join(words[i:i + k]) for i in range(len(words) - k + 1)]


def test_ngram_hashes_match_the_plain_python_ngrams():
    texts = ["a b c d", "", "x", "le foie et la rate", "a b c d", "b c d e"]
    h, off = ngram_hashes(texts, 3)
    assert off.tolist() == [0, 2, 2, 3, 6, 8, 10]
    seen: dict[str, int] = {}
    for i, t in enumerate(texts):
        for gram, value in zip(_python_ngrams(t, 3), h[off[i]:off[i + 1]].tolist(), strict=True):
            assert seen.setdefault(gram, value) == value  # the same n-gram hashes the same anywhere
    assert len(set(seen.values())) == len(seen)  # and different n-grams differently
    h, off = ngram_hashes(["a b"], 3, whole_if_short=False)
    assert len(h) == 0 and off.tolist() == [0, 0]


def test_segments_make_option_order_irrelevant():
    a = [["quel est le traitement", "amoxicilline orale", "repos"]]
    b = [["quel est le traitement", "repos", "amoxicilline orale"]]
    ha, _ = segmented_ngram_hashes(a, 2)
    hb, _ = segmented_ngram_hashes(b, 2)
    assert sorted(ha.tolist()) == sorted(hb.tolist())


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def test_minhash_estimates_jaccard_like_datasketch():
    from datasketch import MinHash

    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(400)]
    base = list(rng.choice(vocab, 60))
    texts = [" ".join(base)]
    for n_changed in (3, 10, 25, 60):
        words = list(base)
        for i in rng.choice(60, n_changed, replace=False):
            words[i] = f"new{i}"
        texts.append(" ".join(words))
    h, off = ngram_hashes(texts, 1)
    sig = MinHasher(256).signatures(h, off)
    sets = [set(t.split()) for t in texts]
    for j in range(1, len(texts)):
        exact = _jaccard(sets[0], sets[j])
        ours = float(estimate(sig, np.array([0]), np.array([j]))[0])
        theirs = MinHash(num_perm=256)
        other = MinHash(num_perm=256)
        theirs.update_batch([w.encode() for w in sets[0]])
        other.update_batch([w.encode() for w in sets[j]])
        assert abs(ours - exact) < 0.1, (ours, exact)
        assert abs(ours - theirs.jaccard(other)) < 0.15


def test_lsh_params_come_from_datasketch_and_keep_recall_high():
    b, r = lsh_params(0.7, 128, (0.1, 0.9))
    assert b * r <= 128
    assert 1 - (1 - 0.75 ** r) ** b > 0.95  # pairs above the threshold almost always meet in a band


def test_near_duplicates_keep_the_better_ranked_copy_and_skip_removed_ones():
    rng = np.random.default_rng(1)
    base = [f"w{i}" for i in rng.integers(0, 10_000, 80)]
    other = [f"v{i}" for i in rng.integers(0, 10_000, 80)]
    edit = list(base)
    edit[5] = "zz"
    texts = [" ".join(other), " ".join(edit), " ".join(base), " ".join(edit[:40] + other[:40])]
    h, off = ngram_hashes(texts, 2)
    sig = MinHasher(128).signatures(h, off)
    b, r = lsh_params(0.7, 128, (0.1, 0.9))
    keys = band_keys(sig, b, r)
    dup, sim = near_duplicates(sig, keys, np.ones(4, dtype=bool), 0.7)
    assert dup.tolist() == [-1, -1, 1, -1]  # row 2 copies row 1 (better ranked); row 3 is half of each
    assert sim[2] > 0.85
    salted = band_keys(sig, b, r, salt=np.array([0, 1, 2, 3], dtype=np.uint64))
    assert len(candidate_pairs(salted)[0]) == 0  # different passages never meet


def test_exact_duplicates_point_to_the_first_of_their_kind():
    keys = np.array([5, 7, 5, 9, 7, 5], dtype=np.int64)
    assert exact_duplicates(keys).tolist() == [-1, -1, 0, -1, 1, 0]


@pytest.mark.parametrize("n", [0, 1])
def test_empty_inputs(n):
    h, off = ngram_hashes([""] * n, 2)
    assert MinHasher(16).signatures(h, off).shape == (n, 16)
