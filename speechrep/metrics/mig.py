"""Mutual Information Gap (MIG).

Chen, Li, Grosse & Duvenaud, "Isolating Sources of Disentanglement in Variational Autoencoders",
NeurIPS 2018.

For each factor v_k, the gap between the two code dimensions that carry the most information about
it, normalised by the factor's entropy, averaged over factors:

    MIG = 1/K  sum_k  ( I(z_{j(1)}; v_k) - I(z_{j(2)}; v_k) ) / H(v_k),

where j(1), j(2) are the code dimensions with the largest and second-largest I(z_j; v_k).
As in disentanglement_lib (``discrete_mig``), I is the plug-in MI between the factor and the code
dimension discretised into ``num_bins = 20`` equal-width histogram bins, on ``num_train = 10,000``
points. In [0, 1]; about 0 for a code unrelated to the factors (the plug-in MI's small positive bias
affects both terms alike), 1 when each factor is captured by one dimension and no other dimension
knows about it.

Deviations from disentanglement_lib: factors with zero entropy (constant in the sample) make its
score NaN; we leave them out of the average and report how many were used (``num_factors_used``).
A code with a single dimension has no second-best dimension: we raise instead of failing on an index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speechrep.metrics.utils import (
    as_rng,
    check_codes_factors,
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    subsample,
)


@dataclass(frozen=True)
class MIGScore:
    discrete_mig: float
    per_factor: np.ndarray = field(repr=False)  # (K,) normalised gap per factor (NaN for constant ones)
    mutual_info: np.ndarray = field(repr=False)  # (D, K) I(z_j; v_k) in nats
    entropies: np.ndarray = field(repr=False)  # (K,) H(v_k) in nats
    num_factors_used: int
    num_train: int

    def as_dict(self) -> dict[str, float]:
        return {"discrete_mig": self.discrete_mig}


def compute_mig(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    num_train: int | None = 10_000,
    num_bins: int = 20,
    seed: int | np.random.Generator = 0,
) -> MIGScore:
    """MIG of ``codes`` (N, D) for discrete ``factors`` (N, K) on ``num_train`` random rows (None: all)."""
    codes, factors = check_codes_factors(codes, factors)
    rows = subsample(len(codes), num_train, as_rng(seed))
    return _compute_mig(codes[rows], factors[rows], num_bins=num_bins)


def _compute_mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> MIGScore:
    if codes.shape[1] < 2:
        raise ValueError("MIG needs at least two code dimensions")
    mutual_info = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
    entropies = discrete_entropy(factors)
    return _mig_from_matrix(mutual_info, entropies, num_train=len(codes))


def _mig_from_matrix(mutual_info: np.ndarray, entropies: np.ndarray, num_train: int = 0) -> MIGScore:
    """MIG from a (D, K) MI matrix and the (K,) factor entropies."""
    top = np.sort(mutual_info, axis=0)[::-1]
    used = entropies > 0
    if not used.any():
        raise ValueError("every factor is constant: MIG is undefined")
    per_factor = np.full(mutual_info.shape[1], np.nan)
    per_factor[used] = (top[0, used] - top[1, used]) / entropies[used]
    return MIGScore(
        discrete_mig=float(np.mean(per_factor[used])),
        per_factor=per_factor,
        mutual_info=mutual_info,
        entropies=entropies,
        num_factors_used=int(used.sum()),
        num_train=num_train,
    )
