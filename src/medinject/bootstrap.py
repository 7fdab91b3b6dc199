"""The one bootstrap: seeded percentile intervals and paired tests over items, for evaluation, judge and agreement.

Seeding: every random draw comes from a generator seeded by (seed, what is being measured), so results do not
depend on the order in which they are computed. NaN policy: resamples whose statistic is not finite (a
correlation over a constant resample, say) are dropped; with none left, or no items, the interval is undefined
(NaN here, null in the JSON outputs). Every interval is a 95% percentile bootstrap over items.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .hashing import stable_int

N_BOOT = 1000
LEVEL = 0.95


def rng_for(seed: int, *key) -> np.random.Generator:
    return np.random.default_rng([seed, stable_int(*key)])


def resample_indices(n: int, rng: np.random.Generator, n_boot: int = N_BOOT) -> np.ndarray:
    return rng.integers(0, n, size=(n_boot, n))


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> list[float]:
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.quantile(samples, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [float(lo), float(hi)]


def mean_ci(values, rng: np.random.Generator, n_boot: int = N_BOOT) -> list[float]:
    """Interval for the mean of per-item values."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return [float("nan"), float("nan")]
    return percentile_interval(v[resample_indices(v.size, rng, n_boot)].mean(axis=1))


def statistic_ci(n: int, statistic: Callable[[np.ndarray], float], rng: np.random.Generator,
                 n_boot: int = N_BOOT) -> list[float]:
    """Interval for any statistic of resampled item indices (corpus BLEU, selection bias...)."""
    if n == 0:
        return [float("nan"), float("nan")]
    idx = resample_indices(n, rng, n_boot)
    return percentile_interval(np.array([statistic(row) for row in idx], dtype=float))


def paired_bootstrap(a, b, rng: np.random.Generator, n_boot: int = N_BOOT) -> dict:
    """Mean difference b - a over paired items, its interval, and a two-sided bootstrap p-value.

    The p-value is twice the share of resampled differences on the far side of zero (Koehn's paired
    bootstrap, two-sided), floored at 1 / n_boot.
    """
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.size == 0:
        return {"diff": float("nan"), "ci": [float("nan"), float("nan")], "p_value": float("nan"), "n": 0}
    boot = d[resample_indices(d.size, rng, n_boot)].mean(axis=1)
    tail = min(float(np.mean(boot <= 0)), float(np.mean(boot >= 0)))
    p = 1.0 if np.all(d == 0) else min(1.0, max(2 * tail, 1 / n_boot))
    return {"diff": float(d.mean()), "ci": percentile_interval(boot), "p_value": p, "n": int(d.size)}


def paired_permutation(a, b, rng: np.random.Generator, n_perm: int = 10000, n_boot: int = N_BOOT) -> dict:
    """Mean difference b - a, its bootstrap interval, and a two-sided sign-flip permutation p-value.

    p = (1 + #{|mean of randomly sign-flipped differences| >= |observed|}) / (1 + n_perm).
    """
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    out = paired_bootstrap(a, b, rng, n_boot)
    if d.size == 0:
        return out
    observed, extreme = abs(d.mean()), 0
    for start in range(0, n_perm, 1000):  # chunks keep memory flat for large item counts
        signs = rng.choice(np.array([-1.0, 1.0]), size=(min(1000, n_perm - start), d.size))
        extreme += int(np.sum(np.abs((signs * d).mean(axis=1)) >= observed - 1e-12))
    out["p_value"] = float((1 + extreme) / (1 + n_perm))
    return out
