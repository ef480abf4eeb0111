"""Rank statistics shared by the training-free tasks (word similarity, spoken STS).

Spearman's rank correlation is Pearson's correlation of the ranks,

    rho(a, b) = cov(r(a), r(b)) / (std(r(a)) std(r(b))),

with tied values given the average of the ranks they span ("fractional" or mid-ranks), which is
what ``scipy.stats.spearmanr`` computes. Written on NumPy so both tasks share one definition; the
word-similarity and spoken-STS scores of Pasad et al. 2024 ("What do self-supervised speech models
know about words?") are this rho against human judgements.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def average_ranks(values: ArrayLike) -> np.ndarray:
    """1-based ranks of a 1-d array, ties replaced by the mean of the ranks they occupy.

    A run of ``m`` equal values at sorted positions ``s .. s + m - 1`` (0-based) gets rank
    ``s + (m + 1) / 2`` each; equals ``scipy.stats.rankdata(values, method="average")``.
    """
    x = np.asarray(values)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-d array, got shape {x.shape}")
    n = len(x)
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    starts_run = np.ones(n, dtype=bool)
    starts_run[1:] = ordered[1:] != ordered[:-1]
    run = np.cumsum(starts_run) - 1  # run index of each sorted position
    first = np.flatnonzero(starts_run)  # sorted position where each run begins
    after = np.append(first[1:], n)  # one past its end
    mean_rank = (first + after + 1) / 2.0  # mean of first+1 .. after
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = mean_rank[run]
    return ranks


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman's rho of two equally long 1-d arrays (mid-ranks for ties).

    Returns NaN when it is undefined: fewer than two values, a NaN among them, or one of the
    two arrays constant (zero rank variance) -- the cases where ``scipy.stats.spearmanr`` gives NaN.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"spearman needs two 1-d arrays of one length; got {x.shape} and {y.shape}")
    if len(x) < 2 or np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    rx = average_ranks(x)
    ry = average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denominator = np.sqrt(np.dot(rx, rx) * np.dot(ry, ry))
    if denominator == 0.0:
        return float("nan")
    return float(np.clip(np.dot(rx, ry) / denominator, -1.0, 1.0))
