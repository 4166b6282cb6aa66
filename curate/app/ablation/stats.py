"""Statistics for ablations: means over seeds with intervals, and bootstrap deltas over items and seeds."""

from __future__ import annotations

import math

import numpy as np

def t_quantile(df: int, level: float = 0.95) -> float:
    """Two-sided Student t quantile (scipy's t.ppf), e.g. 12.706 for df=1 at 95 %."""
    from scipy.stats import t

    return float(t.ppf(1 - (1 - level) / 2, df))


def mean_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """Mean over seeds and its 95 % t-interval (None with a single seed)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if len(x) < 2:
        return m, None, None
    half = t_quantile(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return m, m - half, m + half


def bootstrap_delta(variant: np.ndarray, base: np.ndarray, *, reps: int = 2000, seed: int = 0,
                    level: float = 0.95) -> tuple[float, float, float]:
    """Delta of mean score (variant - base) with a percentile interval.

    `variant` and `base` are (seeds x items) matrices over the *same* items in the same order. Each
    replicate resamples items (shared by both arms, so item difficulty cancels) and, independently,
    each arm's seeds — so the interval reflects both item sampling and training-seed noise.
    """
    v, b = np.atleast_2d(np.asarray(variant, float)), np.atleast_2d(np.asarray(base, float))
    if v.shape[1] != b.shape[1]:
        raise ValueError(f"arms score different items: {v.shape[1]} vs {b.shape[1]}")
    n = v.shape[1]
    point = float(v.mean() - b.mean())
    if n == 0:
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=reps).T / n  # items x reps: resampling weights
    v_means, b_means = v @ counts, b @ counts  # seeds x reps
    v_pick = rng.integers(0, v.shape[0], size=(v.shape[0], reps))
    b_pick = rng.integers(0, b.shape[0], size=(b.shape[0], reps))
    cols = np.arange(reps)
    deltas = v_means[v_pick, cols].mean(axis=0) - b_means[b_pick, cols].mean(axis=0)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(deltas, [alpha, 1 - alpha])
    return point, float(lo), float(hi)


def shown(lo: float, hi: float) -> bool:
    """An effect is shown only when its interval excludes zero."""
    return not (lo <= 0.0 <= hi) and not (math.isnan(lo) or math.isnan(hi))
