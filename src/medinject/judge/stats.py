"""Correlations with intervals and the length-controlled regression, on the shared bootstrap.

Resampling, seeding and the NaN policy are `medinject.bootstrap`'s (not `scipy.stats.bootstrap`, whose
percentile step propagates the NaN of constant resamples that correlations on small samples hit). Undefined
values are None here, as the JSON outputs hold them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats as ss

from ..bootstrap import LEVEL as CONFIDENCE
from ..bootstrap import N_BOOT, percentile_interval, resample_indices, rng_for


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def interval(values: np.ndarray, confidence: float = CONFIDENCE) -> list[float | None]:
    return [_clean(v) for v in percentile_interval(np.asarray(values, dtype=float), confidence)]


def bootstrap(stat: Callable[..., float], *arrays, n_boot: int = N_BOOT, seed: int = 0,
              confidence: float = CONFIDENCE, batched: Callable[..., np.ndarray] | None = None,
              key: tuple = ()) -> dict:
    """{value, ci, n}: `stat(*arrays)` and its percentile interval over paired resamples of the items.

    `batched`, when given, computes the statistic for every resample at once from (n_boot, n) arrays. The
    resamples come from `rng_for(seed, *key)`: the same seed and key give the same resamples.
    """
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    n = len(arrays[0])
    if n == 0:
        return {"value": None, "ci": [None, None], "n": 0}
    value = _clean(stat(*arrays))
    if n < 2:
        return {"value": value, "ci": [None, None], "n": n}
    idx = resample_indices(n, rng_for(seed, *key), n_boot)
    if batched is not None:
        boots = batched(*(a[idx] for a in arrays))
    else:
        boots = np.array([stat(*(a[i] for a in arrays)) for i in idx], dtype=float)
    return {"value": value, "ci": interval(boots, confidence), "n": n}


def mean_ci(x, **kw) -> dict:
    return bootstrap(np.mean, x, batched=lambda a: a.mean(axis=1), **kw)


def _rows_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(axis=1) / den, np.nan)


def _rows_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _rows_pearson(ss.rankdata(x, axis=1), ss.rankdata(y, axis=1))


def _safe(f: Callable) -> Callable[..., float]:
    def g(x, y):
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            return float("nan")  # a correlation with a constant is undefined, not zero
        return float(f(x, y)[0])
    return g


# name -> (scipy's statistic, batched version for the resamples or None)
CORRELATIONS = {
    "pearson": (_safe(ss.pearsonr), _rows_pearson),
    "spearman": (_safe(ss.spearmanr), _rows_spearman),
    "kendall": (_safe(ss.kendalltau), None),
}


def correlations(x, y, *, methods=("pearson", "spearman", "kendall"), **kw) -> dict:
    """Each correlation of x and y (scipy's value) with its bootstrap interval, all from the same resamples."""
    return {m: bootstrap(CORRELATIONS[m][0], x, y, batched=CORRELATIONS[m][1], **kw) for m in methods}


def _rows_line(d: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares (intercept, slope) of y = a + b d for each row; NaN where d is constant."""
    dm, ym = d.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)
    var = ((d - dm) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(var > 0, ((d - dm) * (y - ym)).sum(axis=1) / var, np.nan)
    a = ym[:, 0] - b * dm[:, 0]
    # Every answer as long as its reference (d = 0 throughout): the score at zero difference is the mean.
    a = np.where((var == 0) & np.all(d == 0, axis=1), ym[:, 0], a)
    return a, b


def intercept_at_zero(d, y) -> float:
    """Intercept of the least-squares line y = a + b d: the expected y when d = 0."""
    return float(_rows_line(np.atleast_2d(d), np.atleast_2d(y))[0][0])


def length_controlled(d, y, **kw) -> dict:
    """Regression of the verdict y on a length difference d, reported at zero difference (with interval)."""
    out = bootstrap(intercept_at_zero, d, y, batched=lambda dd, yy: _rows_line(dd, yy)[0], **kw)
    b = _rows_line(np.atleast_2d(np.asarray(d, float)), np.atleast_2d(np.asarray(y, float)))[1][0] if len(d) else None
    out["slope_per_word"] = _clean(b) if b is not None else None
    return out
