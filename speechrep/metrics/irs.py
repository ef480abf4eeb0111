"""Interventional Robustness Score (IRS).

Suter, Miladinović, Schölkopf & Bauer, "Robustly Disentangled Causal Mechanisms: Validating Deep
Representations for Interventional Robustness", ICML 2019.

How much a code dimension z_j moves when every factor but one is changed. For factor k and each of its
values g, the spread of z_j among the points with v_k = g is measured by the ``diff_quantile``
quantile of |z_j - E[z_j | v_k = g]|; averaged over the values g, and divided by z_j's largest
deviation from its mean over all points, it gives the normalised deviation d_jk. Then

    IRS_jk = 1 - d_jk,   IRS_j = max_k IRS_jk,   IRS = sum_j w_j IRS_j / sum_j w_j,

with w_j = max_n |z_nj - mean(z_j)| (dimensions with larger ranges count more). 1 when each used
dimension is fixed by fixing one factor; low when every dimension still moves with the other factors.

disentanglement_lib's estimator is observational: it conditions on v_k = g in a sample instead of
intervening, which equals the interventional quantity when the factors are independent and every
combination is equally likely (crossed factors, as in the library's data sets; ``scalable_
disentanglement_score`` states the assumption). For speech, where factors are correlated (a vowel
inventory differs by speaker, say), read it as a conditional score. It needs only (codes, factors), so
it is a fixed-data metric here. Defaults: ``num_train = 10,000``, ``diff_quantile = 0.99`` (1.0 is the
paper's maximum), factors discretised like codes (20 histogram bins; integer factors with at most 21
evenly spaced levels keep their values; non-numeric labels are used as they are), constant code
dimensions dropped, IRS = 0 when all are.

Note: IRS has no fixed chance level. For a code unrelated to the factors d_jk is the ratio of a
within-group 99 % quantile to the overall maximum deviation, so it depends on the code's distribution
and on N (about 0.3 for Gaussian noise with N = 10,000, near 0 for uniform noise).

Deviations from disentanglement_lib: ``num_active_dims`` is the number of non-constant dimensions
(the library returns the sum of their values, ``np.sum(active_mus)``, a bug).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speechrep.metrics.utils import as_rng, check_codes_factors, histogram_discretize, subsample


@dataclass(frozen=True)
class IRSScore:
    irs: float
    num_active_dims: int
    disentanglement_scores: np.ndarray = field(repr=False)  # (D_active,) IRS_j
    irs_matrix: np.ndarray = field(repr=False)  # (D_active, K)
    parents: np.ndarray = field(repr=False)  # (D_active,) argmax_k IRS_jk
    max_deviations: np.ndarray = field(repr=False)  # (D_active,) w_j
    active_dims: np.ndarray = field(repr=False)  # indices of the non-constant code dimensions
    num_train: int

    def as_dict(self) -> dict[str, float]:
        return {"irs": self.irs, "num_active_dims": float(self.num_active_dims)}


def compute_irs(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    num_train: int | None = 10_000,
    diff_quantile: float = 0.99,
    num_bins: int = 20,
    seed: int | np.random.Generator = 0,
) -> IRSScore:
    """IRS of ``codes`` (N, D) for ``factors`` (N, K) on ``num_train`` random rows (None: all)."""
    codes, factors = check_codes_factors(codes, factors)
    rows = subsample(len(codes), num_train, as_rng(seed))
    return _compute_irs(codes[rows], factors[rows], diff_quantile=diff_quantile, num_bins=num_bins)


def _compute_irs(
    codes: np.ndarray, factors: np.ndarray, *, diff_quantile: float = 0.99, num_bins: int = 20
) -> IRSScore:
    if not 0.0 < diff_quantile <= 1.0:
        raise ValueError("diff_quantile must be in (0, 1]")
    if np.issubdtype(factors.dtype, np.number):
        factors_discrete = histogram_discretize(factors.astype(np.float64), num_bins)
    else:  # labels (e.g. strings) have no histogram: each value is its own group
        factors_discrete = np.stack([np.unique(c, return_inverse=True)[1] for c in factors.T], axis=1)
    active = np.flatnonzero(codes.var(axis=0) > 0.0)
    if len(active) == 0:
        empty = np.zeros(0)
        return IRSScore(0.0, 0, empty, np.zeros((0, factors.shape[1])), empty, empty, active, len(codes))
    return _scalable_disentanglement_score(factors_discrete, codes[:, active], diff_quantile, active)


def _scalable_disentanglement_score(
    factors: np.ndarray, latents: np.ndarray, diff_quantile: float, active_dims: np.ndarray
) -> IRSScore:
    """IRS on (N, K) discrete factors and (N, D) non-constant latents."""
    num_factors, num_latents = factors.shape[1], latents.shape[1]
    max_deviations = np.max(np.abs(latents - latents.mean(axis=0)), axis=0)
    cum_deviations = np.zeros((num_latents, num_factors))
    for k in range(num_factors):
        values = np.unique(factors[:, k])
        for value in values:
            group = latents[factors[:, k] == value]
            diffs = np.abs(group - group.mean(axis=0))
            cum_deviations[:, k] += np.percentile(diffs, q=diff_quantile * 100, axis=0)
        cum_deviations[:, k] /= len(values)
    irs_matrix = 1.0 - cum_deviations / max_deviations[:, None]
    scores = irs_matrix.max(axis=1)
    if np.sum(max_deviations) > 0.0:
        average = float(np.average(scores, weights=max_deviations))
    else:
        average = float(np.mean(scores))
    return IRSScore(
        irs=average,
        num_active_dims=num_latents,
        disentanglement_scores=scores,
        irs_matrix=irs_matrix,
        parents=irs_matrix.argmax(axis=1),
        max_deviations=max_deviations,
        active_dims=active_dims,
        num_train=len(latents),
    )
