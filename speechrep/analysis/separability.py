"""Class separability of features: the fraction of total variance explained by the class means.

    eta^2 = tr(S_B) / tr(S_T),   S_T = sum_i (x_i - m)(x_i - m)^T,   S_B = sum_c n_c (m_c - m)(m_c - m)^T

The multivariate correlation ratio (Fisher 1925; the trace form used for cluster validity, e.g.
Calinski & Harabasz 1974). It is 1 when every class is a single point, and for features unrelated
to the labels its expectation is about (C - 1) / (n - 1) for C classes and n rows (the chance level,
returned alongside). It is a quick, training-free layer-wise statistic: how much of a layer's variance
lines up with phone (or word, speaker) identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Separability:
    score: float  # eta^2 in [0, 1]
    chance: float  # (C - 1) / (n - 1): its value for features independent of the labels
    num_rows: int
    num_classes: int


def class_separability(features: np.ndarray, labels: np.ndarray) -> Separability:
    """eta^2 of ``features`` (n, d) for ``labels`` (n,), computed in float64."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features must be (n, d) with one label per row; got {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError("need at least two rows")
    classes, codes = np.unique(y, return_inverse=True)
    centred = x - x.mean(axis=0)
    total = float(np.sum(centred**2))
    if total == 0.0:
        raise ValueError("features are constant: separability is undefined")
    counts = np.bincount(codes)
    means = np.zeros((len(classes), x.shape[1]))
    np.add.at(means, codes, centred)
    means /= counts[:, None]
    between = float(np.sum(counts[:, None] * means**2))
    return Separability(between / total, (len(classes) - 1) / (len(x) - 1), len(x), len(classes))
