"""Bootstrap intervals, paired tests, and reordered copies of items."""

from __future__ import annotations

import numpy as np
import pytest

from medinject.bootstrap import mean_ci, paired_bootstrap, paired_permutation, rng_for
from medinject.evaluate import bias
from medinject.records import Origin, Record, Task


def test_mean_ci_is_seeded_and_brackets_the_mean():
    v = np.array([0, 1] * 50, dtype=float)
    a, b = mean_ci(v, rng_for(0, "x")), mean_ci(v, rng_for(0, "x"))
    assert a == b and a[0] < 0.5 < a[1] and a[1] - a[0] < 0.3
    assert mean_ci([1.0] * 5, rng_for(0, "y")) == [1.0, 1.0]


def test_paired_tests():
    a = np.zeros(60)
    b = np.r_[np.ones(30), np.zeros(30)]
    for test in (paired_bootstrap, paired_permutation):
        res = test(a, b, rng_for(0, test.__name__))
        assert res["diff"] == 0.5 and res["n"] == 60 and res["ci"][0] > 0.3
        assert res["p_value"] < 0.01
        same = test(a, a, rng_for(0, "same"))
        assert same["diff"] == 0 and same["p_value"] == 1.0
    small = paired_permutation(a[:4], np.r_[1.0, 0, 0, 0], rng_for(0, "small"))
    assert small["p_value"] == pytest.approx(1.0, abs=0.05)  # one flip of four items proves nothing


def _rec(n=4, answer=("B",), task=Task.MCQU):
    letters = "ABCDEFG"[:n]
    return Record(id="q1", task=task, question="Q ?", options={x: f"texte {x}" for x in letters}, answer=list(answer),
                  origin=Origin.NATIVE, source="s")


def test_reorder_remaps_gold():
    r = bias.reorder(_rec(answer=("B", "D"), task=Task.MCQ), ["D", "A", "B", "C"])
    assert r.options == {"A": "texte D", "B": "texte A", "C": "texte B", "D": "texte C"}
    assert r.answer == ["A", "C"]


def test_permutations_are_seeded_and_change_the_order():
    r = _rec()
    p1, p2 = bias.permutations(r, 5, seed=3), bias.permutations(r, 5, seed=3)
    assert p1 == p2 and p1 != bias.permutations(r, 5, seed=4)
    assert all(sorted(p) == list("ABCD") and p != list("ABCD") for p in p1)


def test_rotations_and_variants():
    r = _rec(n=3)
    assert bias.rotations(r) == [["B", "C", "A"], ["C", "A", "B"]]
    recs, info = bias.variants([r], permute=2, circular=True, seed=0)
    assert [i["variant"] for i in info] == ["perm-1", "perm-2", "rot-1", "rot-2"]
    # gold B is shown under A in rotation 1, under C in rotation 2
    assert [x.answer for x in recs[2:]] == [["A"], ["C"]]


def test_evaluation_and_judge_share_one_bootstrap_seeding_and_nan_policy():
    import numpy as np

    from medinject import bootstrap
    from medinject.judge import stats as jstats

    x = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    ev = bootstrap.mean_ci(x, bootstrap.rng_for(3, "k"), 500)
    ju = jstats.mean_ci(x, seed=3, key=("k",), n_boot=500)
    assert ju["ci"] == ev  # same resamples from the same (seed, key), same percentile step
    # Non-finite resamples are dropped by both; with none finite the interval is undefined (NaN / null).
    assert bootstrap.percentile_interval(np.array([np.nan, np.inf, 1.0, 1.0])) == [1.0, 1.0]
    assert all(np.isnan(bootstrap.percentile_interval(np.array([np.nan, np.inf]))))
    assert jstats.interval(np.array([np.nan, np.inf])) == [None, None]
