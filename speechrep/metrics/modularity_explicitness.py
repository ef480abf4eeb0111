"""Modularity and explicitness.

Ridgeway & Mozer, "Learning Deep Disentangled Embeddings With the F-Statistic Loss", NeurIPS 2018.

Modularity: a code dimension is modular when it carries information about one factor only. With
m_jk = I(z_j; v_k) (plug-in MI, codes discretised into ``num_bins = 20`` histogram bins) and
theta_j = max_k m_jk,

    delta_j = sum_{k != argmax} m_jk^2 / (theta_j^2 (K - 1)),   modularity = 1/D sum_j (1 - delta_j),

with a dimension that carries no information at all (theta_j = 0) scoring 0, as in
disentanglement_lib.

Explicitness: how well a linear classifier reads each factor out of the whole code. Codes are
standardised with the training mean and standard deviation; per factor, a
``LogisticRegression()`` (scikit-learn defaults) is fitted on the training set, and the score is the
macro-averaged one-vs-rest ROC AUC of its class probabilities; explicitness is the mean over factors,
on the training and on the held-out set. It is an AUC: 0.5 is chance and 1 is perfect (DecVAE
reports 2 AUC - 1 instead, so its 0 is our 0.5).

disentanglement_lib's defaults: ``num_train = 10,000``, ``num_test = 5,000``, 20 bins.

Notes. The plug-in MI is biased upwards by about (bins - 1)(levels - 1) / (2N) nats, so for a
dimension unrelated to every factor the m_jk are not 0 but grow with each factor's number of levels.
With factors of unequal cardinality a pure-noise dimension therefore looks modular (its largest
"information" is about the factor with most levels): the chance level of modularity is not 0, and can
be close to 1. Compare with a permutation null (``evaluate_representation(..., chance=True)``).

Deviations from disentanglement_lib: the one-hot targets of the ROC AUC are built from the
classifier's classes rather than with a ``MultiLabelBinarizer`` fitted on each split (which fails,
or misaligns columns, when a class is missing from one split), and classes absent from, or making up
all of, a split's labels are left out of that split's macro average (their AUC is undefined).
Constant code dimensions are standardised with a standard deviation of 1 rather than divided by 0.
With a single factor, modularity is NaN (delta_j is 0 / 0; the library returns NaN with a warning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from speechrep.metrics.utils import (
    as_rng,
    check_codes_factors,
    discrete_mutual_info,
    histogram_discretize,
    split_train_test,
)


@dataclass(frozen=True)
class ModularityExplicitnessScore:
    modularity_score: float
    explicitness_score_train: float
    explicitness_score_test: float
    mutual_info: np.ndarray = field(repr=False)  # (D, K) on the training set, nats
    explicitness_per_factor_test: np.ndarray = field(repr=False)  # (K,)
    num_train: int
    num_test: int

    def as_dict(self) -> dict[str, float]:
        return {
            "modularity_score": self.modularity_score,
            "explicitness_score_train": self.explicitness_score_train,
            "explicitness_score_test": self.explicitness_score_test,
        }


def compute_modularity_explicitness(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    num_bins: int = 20,
    seed: int | np.random.Generator = 0,
    groups: np.ndarray | None = None,
) -> ModularityExplicitnessScore:
    """Modularity (on the training rows) and explicitness (train and test) of ``codes`` for ``factors``."""
    codes, factors = check_codes_factors(codes, factors)
    train, test = split_train_test(len(codes), num_train, num_test, as_rng(seed), groups)
    return _compute_modularity_explicitness(
        codes[train], factors[train], codes[test], factors[test], num_bins=num_bins
    )


def _compute_modularity_explicitness(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    num_bins: int = 20,
) -> ModularityExplicitnessScore:
    mutual_info = discrete_mutual_info(histogram_discretize(codes_train, num_bins), factors_train)
    mean, std = codes_train.mean(axis=0), codes_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    train_norm = (codes_train - mean) / std
    test_norm = (codes_test - mean) / std
    per_factor = np.array(
        [
            explicitness_per_factor(train_norm, factors_train[:, k], test_norm, factors_test[:, k])
            for k in range(factors_train.shape[1])
        ]
    )
    return ModularityExplicitnessScore(
        modularity_score=modularity(mutual_info),
        explicitness_score_train=float(np.mean(per_factor[:, 0])),
        explicitness_score_test=float(np.mean(per_factor[:, 1])),
        mutual_info=mutual_info,
        explicitness_per_factor_test=per_factor[:, 1],
        num_train=len(codes_train),
        num_test=len(codes_test),
    )


def modularity(mutual_info: np.ndarray) -> float:
    """Mean over code dimensions of 1 - delta_j for a (D, K) matrix of I(z_j; v_k)."""
    squared = np.square(np.asarray(mutual_info, dtype=np.float64))
    if squared.shape[1] < 2:  # delta_j is 0 / 0 with a single factor
        return float("nan")
    max_squared = squared.max(axis=1)
    numerator = squared.sum(axis=1) - max_squared
    denominator = max_squared * (squared.shape[1] - 1.0)
    safe = np.where(max_squared > 0, denominator, 1.0)
    score = np.where(max_squared > 0, 1.0 - numerator / safe, 0.0)
    return float(np.mean(score))


def explicitness_per_factor(
    codes_train: np.ndarray, labels_train: np.ndarray, codes_test: np.ndarray, labels_test: np.ndarray
) -> tuple[float, float]:
    """Macro one-vs-rest ROC AUC of a logistic regression on the train and the test set."""
    if len(np.unique(labels_train)) < 2:
        raise ValueError("a factor is constant in the training set: explicitness is undefined")
    classifier = LogisticRegression().fit(codes_train, labels_train)
    return (
        _macro_auc(labels_train, classifier.predict_proba(codes_train), classifier.classes_),
        _macro_auc(labels_test, classifier.predict_proba(codes_test), classifier.classes_),
    )


def _macro_auc(labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> float:
    onehot = (labels[:, None] == classes[None, :]).astype(np.int64)
    defined = (onehot.sum(axis=0) > 0) & (onehot.sum(axis=0) < len(labels))
    if not defined.any():
        return float("nan")
    if defined.sum() == 1:  # a single column is a binary problem for roc_auc_score
        return float(roc_auc_score(onehot[:, defined].ravel(), probabilities[:, defined].ravel()))
    return float(roc_auc_score(onehot[:, defined], probabilities[:, defined], average="macro"))
