"""DCI: disentanglement, completeness and informativeness.

Eastwood & Williams, "A Framework for the Quantitative Evaluation of Disentangled Representations",
ICLR 2018.

For each factor k a gradient-boosted tree classifier predicts v_k from the whole code; its impurity
importances fill column k of the importance matrix R (D codes x K factors, R_jk >= 0). With
P_jk = R_jk / sum_k' R_jk' (code j's importance spread over factors) and
Q_jk = R_jk / sum_j' R_j'k (factor k's importance spread over codes):

    D_j = 1 - H_K(P_j.),   D = sum_j rho_j D_j,   rho_j = sum_k R_jk / sum_jk R_jk
    C_k = 1 - H_D(Q_.k),   C = sum_k  w_k C_k,    w_k  = sum_j R_jk / sum_jk R_jk

with H_b the entropy in base b (so each term is in [0, 1]). Informativeness is the classifiers'
accuracy, averaged over factors, on the training and on the held-out set (disentanglement_lib
reports accuracy under the keys ``informativeness_train/test``; the paper uses a prediction error).

disentanglement_lib's defaults: ``num_train = 10,000`` and ``num_test = 5,000`` points,
``sklearn.ensemble.GradientBoostingClassifier()`` with default settings (100 stages of depth-3
trees, learning rate 0.1), ``1e-11`` added inside the entropies, an all-zero importance matrix gives
D = C = 0.

The fast option (``fast=True``): scikit-learn's ``GradientBoostingClassifier`` fits one tree per
class per stage with exact splits, which takes minutes per factor on 10,000 points with many classes
and a few hundred dimensions (and hours on all frames of a corpus, DecVAE's complaint).
``HistGradientBoostingClassifier`` is not a drop-in answer: it exposes no ``feature_importances_``, and
permutation importance measures a different quantity (loss of accuracy, noisy and often negative for
unused dimensions), which moves D and C. So the fast option keeps the same estimator and the same
impurity-based importances and makes the ensemble cheaper: ``n_estimators=30`` and ``subsample=0.8``
(stochastic gradient boosting), about 4x faster. On codes with a clear structure it gives the same
dominant code per factor and D, C within about 0.02 of the default; on codes where every dimension
is equally informative (where D itself is unstable) it can differ by 0.1. ``tests/metrics/test_dci.py``
checks the agreement. Report default-setting numbers when comparing with published ones. Independently,
``n_jobs`` fits the factors' classifiers in parallel processes, which changes nothing in the result.

Deviations from disentanglement_lib: the classifiers get ``random_state=seed`` (the library leaves it
unset; trees break ties between equally good splits at random). With a single factor, D_j is taken
as 1 (base-1 entropy is undefined there; each code can only be about that factor) and, with a
single code dimension, C_k likewise. A factor that is constant in the training set raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats
from joblib import Parallel, delayed
from sklearn.ensemble import GradientBoostingClassifier

from speechrep.metrics.utils import as_rng, check_codes_factors, split_train_test

#: The cheaper ensemble of ``fast=True``; everything else stays at scikit-learn's defaults.
FAST_GBT_PARAMS: dict[str, Any] = {"n_estimators": 30, "subsample": 0.8}


@dataclass(frozen=True)
class DCIScore:
    disentanglement: float
    completeness: float
    informativeness_train: float  # mean accuracy over factors
    informativeness_test: float
    importance_matrix: np.ndarray = field(repr=False)  # (D, K)
    num_train: int
    num_test: int

    def as_dict(self) -> dict[str, float]:
        return {
            "disentanglement": self.disentanglement,
            "completeness": self.completeness,
            "informativeness_train": self.informativeness_train,
            "informativeness_test": self.informativeness_test,
        }


def compute_dci(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
    fast: bool = False,
    seed: int | np.random.Generator = 0,
    groups: np.ndarray | None = None,
    n_jobs: int | None = None,
) -> DCIScore:
    """DCI of ``codes`` (N, D) for discrete ``factors`` (N, K).

    Train and test rows are drawn without replacement (whole ``groups`` on one side if given).
    """
    codes, factors = check_codes_factors(codes, factors)
    rng = as_rng(seed)
    train, test = split_train_test(len(codes), num_train, num_test, rng, groups)
    model_seed = int(rng.integers(2**31 - 1))
    return _compute_dci(
        codes[train],
        factors[train],
        codes[test],
        factors[test],
        fast=fast,
        random_state=model_seed,
        n_jobs=n_jobs,
    )


def _compute_dci(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    fast: bool = False,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> DCIScore:
    importance, train_acc, test_acc = compute_importance_gbt(
        codes_train,
        factors_train,
        codes_test,
        factors_test,
        fast=fast,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    return DCIScore(
        disentanglement=disentanglement(importance),
        completeness=completeness(importance),
        informativeness_train=train_acc,
        informativeness_test=test_acc,
        importance_matrix=importance,
        num_train=len(codes_train),
        num_test=len(codes_test),
    )


def compute_importance_gbt(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    fast: bool = False,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, float, float]:
    """(D, K) impurity importances and mean train / test accuracy of one GBT classifier per factor."""
    for k in range(factors_train.shape[1]):
        if len(np.unique(factors_train[:, k])) < 2:
            raise ValueError(f"factor {k} is constant in the training set: DCI cannot fit a classifier")
    params = {**(FAST_GBT_PARAMS if fast else {}), "random_state": random_state}
    fits = Parallel(n_jobs=n_jobs)(
        delayed(_fit_one_factor)(codes_train, factors_train[:, k], codes_test, factors_test[:, k], params)
        for k in range(factors_train.shape[1])
    )
    importance = np.stack([fit[0] for fit in fits], axis=1)
    train_acc = float(np.mean([fit[1] for fit in fits]))
    test_acc = float(np.mean([fit[2] for fit in fits]))
    return importance, train_acc, test_acc


def _fit_one_factor(
    codes_train: np.ndarray,
    labels_train: np.ndarray,
    codes_test: np.ndarray,
    labels_test: np.ndarray,
    params: dict[str, Any],
) -> tuple[np.ndarray, float, float]:
    model = GradientBoostingClassifier(**params).fit(codes_train, labels_train)
    return (
        np.abs(model.feature_importances_),
        float(np.mean(model.predict(codes_train) == labels_train)),
        float(np.mean(model.predict(codes_test) == labels_test)),
    )


def disentanglement_per_code(importance_matrix: np.ndarray) -> np.ndarray:
    """D_j = 1 - H_K(P_j.) for each code j of a (D, K) importance matrix."""
    importance_matrix = np.asarray(importance_matrix, dtype=np.float64)
    if importance_matrix.shape[1] == 1:
        return np.ones(importance_matrix.shape[0])
    return 1.0 - scipy.stats.entropy(importance_matrix.T + 1e-11, base=importance_matrix.shape[1])


def disentanglement(importance_matrix: np.ndarray) -> float:
    """D: the per-code disentanglement weighted by each code's share of the total importance."""
    importance_matrix = np.asarray(importance_matrix, dtype=np.float64)
    if importance_matrix.sum() == 0.0:  # nothing is used: the uniform P of disentanglement_lib gives 0
        return 0.0
    per_code = disentanglement_per_code(importance_matrix)
    code_importance = importance_matrix.sum(axis=1) / importance_matrix.sum()
    return float(np.sum(per_code * code_importance))


def completeness_per_factor(importance_matrix: np.ndarray) -> np.ndarray:
    """C_k = 1 - H_D(Q_.k) for each factor k of a (D, K) importance matrix."""
    importance_matrix = np.asarray(importance_matrix, dtype=np.float64)
    if importance_matrix.shape[0] == 1:
        return np.ones(importance_matrix.shape[1])
    return 1.0 - scipy.stats.entropy(importance_matrix + 1e-11, base=importance_matrix.shape[0])


def completeness(importance_matrix: np.ndarray) -> float:
    """C: the per-factor completeness weighted by each factor's share of the total importance."""
    importance_matrix = np.asarray(importance_matrix, dtype=np.float64)
    if importance_matrix.sum() == 0.0:
        return 0.0
    per_factor = completeness_per_factor(importance_matrix)
    factor_importance = importance_matrix.sum(axis=0) / importance_matrix.sum()
    return float(np.sum(per_factor * factor_importance))
