"""Separated Attribute Predictability (SAP).

Kumar, Sattigeri & Balakrishnan, "Variational Inference of Disentangled Latent Concepts from
Unlabeled Observations", ICLR 2018.

A score matrix S (D codes x K factors) says how well each single code dimension predicts each
factor; SAP is the mean over factors of the gap between the best and the second-best dimension:

    SAP = 1/K  sum_k  ( S_{j(1),k} - S_{j(2),k} ).

disentanglement_lib's defaults (``unsupervised_study_v1``): ``num_train = 10,000``,
``num_test = 5,000`` and ``continuous_factors = False``. For discrete factors,
S_jk is the held-out accuracy of ``LinearSVC(C=0.01, class_weight="balanced")`` trained on code j
alone; for continuous factors it is the squared correlation
cov(z_j, v_k)^2 / (var z_j var v_k) on the training set (0 where var z_j <= 1e-12).

Note: a one-dimensional linear one-vs-rest classifier can only carve out the extreme classes of an
ordered factor, so with many levels even a perfect code gets a modest S (and SAP); published SAP
values carry the same limitation. A chance-level code gives SAP near 0.

Deviations from disentanglement_lib: none in the formula. ``LinearSVC`` gets
``random_state=seed`` (liblinear's coordinate descent visits samples in random order), and its
``ConvergenceWarning``, frequent with ``C = 0.01`` on a single feature, is silenced as in the
library's runs (where it went to the log). The continuous-factor branch computes the same
correlation without the per-pair ``np.cov`` call, and gives 0 (not NaN) for a constant factor.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from speechrep.metrics.utils import as_rng, check_codes_factors, split_train_test


@dataclass(frozen=True)
class SAPScore:
    sap_score: float
    score_matrix: np.ndarray = field(repr=False)  # (D, K)
    num_train: int
    num_test: int

    def as_dict(self) -> dict[str, float]:
        return {"sap_score": self.sap_score}


def compute_sap(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    continuous_factors: bool = False,
    seed: int | np.random.Generator = 0,
    groups: np.ndarray | None = None,
) -> SAPScore:
    """SAP of ``codes`` (N, D) for ``factors`` (N, K) on disjoint random train / test rows."""
    codes, factors = check_codes_factors(codes, factors)
    rng = as_rng(seed)
    train, test = split_train_test(len(codes), num_train, num_test, rng, groups)
    return _compute_sap(
        codes[train],
        factors[train],
        codes[test],
        factors[test],
        continuous_factors=continuous_factors,
        random_state=int(rng.integers(2**31 - 1)),
    )


def _compute_sap(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    continuous_factors: bool = False,
    random_state: int = 0,
) -> SAPScore:
    if codes_train.shape[1] < 2:
        raise ValueError("SAP needs at least two code dimensions")
    matrix = compute_score_matrix(
        codes_train,
        factors_train,
        codes_test,
        factors_test,
        continuous_factors=continuous_factors,
        random_state=random_state,
    )
    return SAPScore(compute_avg_diff_top_two(matrix), matrix, len(codes_train), len(codes_test))


def compute_score_matrix(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    continuous_factors: bool = False,
    random_state: int = 0,
) -> np.ndarray:
    """(D, K) predictability of each factor from each single code dimension."""
    num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
    matrix = np.zeros((num_codes, num_factors))
    if continuous_factors:
        z = codes_train - codes_train.mean(axis=0)
        v = factors_train.astype(np.float64) - factors_train.mean(axis=0)
        n = len(z) - 1
        cov = z.T @ v / n
        var_z = np.sum(z**2, axis=0) / n
        var_v = np.sum(v**2, axis=0) / n
        active = (var_z[:, None] > 1e-12) & (var_v[None, :] > 0)
        denominator = np.where(active, var_z[:, None] * var_v[None, :], 1.0)
        return np.where(active, cov**2 / denominator, 0.0)
    for k in range(num_factors):
        if len(np.unique(factors_train[:, k])) < 2:
            raise ValueError(f"factor {k} is constant in the training set: SAP cannot fit a classifier")
        for j in range(num_codes):
            classifier = LinearSVC(C=0.01, class_weight="balanced", random_state=random_state)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                classifier.fit(codes_train[:, j : j + 1], factors_train[:, k])
            prediction = classifier.predict(codes_test[:, j : j + 1])
            matrix[j, k] = np.mean(prediction == factors_test[:, k])
    return matrix


def compute_avg_diff_top_two(matrix: np.ndarray) -> float:
    """Mean over columns of the gap between the largest and second-largest entry."""
    ordered = np.sort(np.asarray(matrix, dtype=np.float64), axis=0)
    return float(np.mean(ordered[-1, :] - ordered[-2, :]))
