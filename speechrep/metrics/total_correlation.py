"""Unsupervised scores of a code: Gaussian total correlation, Wasserstein correlation, pairwise MI.

They need no factors; they measure how far the code dimensions are from being independent. Lower is
more factorised; 0 for independent dimensions (up to estimation bias). They are the
``unsupervised_metrics`` of disentanglement_lib (Locatello et al., "Challenging Common Assumptions in
the Unsupervised Learning of Disentangled Representations", ICML 2019); the total correlation is the
quantity penalised by FactorVAE (Kim & Mnih 2018) and β-TCVAE (Chen et al. 2018), here under a
Gaussian fit of the codes:

    TC_gauss   = KL( N(0, Σ) || N(0, diag Σ) ) = ½ ( sum_j log Σ_jj - log det Σ ),
    W_gauss    = W_2^2( N(0, Σ), N(0, diag Σ) ) = 2 tr Σ - 2 tr ( (diag Σ)^{1/2} Σ (diag Σ)^{1/2} )^{1/2},
    W_norm     = W_gauss / tr Σ,
    MI_pairs   = 1 / (D (D - 1)) sum_{i != j} I(z_i; z_j),

with Σ the sample covariance (``ddof = 1``) of the codes and I the plug-in MI of the codes discretised
into 20 equal-width histogram bins (in nats). The plug-in MI is biased upwards by about
(bins - 1)^2 / (2N) nats, so independent dimensions give a small positive MI_pairs (about 0.02 at
N = 10,000), and TC_gauss has a bias of about D (D - 1) / (4N).

disentanglement_lib's defaults: ``num_train = 10,000``, 20 bins.

Deviations from disentanglement_lib: the Wasserstein term takes the matrix square root of the
symmetric (diag Σ)^{1/2} Σ (diag Σ)^{1/2} through its eigenvalues; the library calls
``scipy.linalg.sqrtm`` on the non-symmetric product diag(Σ) Σ, which has the same eigenvalues (so the
same trace) but is less stable numerically. A singular Σ (a constant or duplicated dimension) gives an
infinite TC here, as it does there. DecVAE additionally reports an adjusted MI and a normalised
"Gaussian correlation"; those are not computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechrep.metrics.utils import as_rng, discrete_mutual_info, histogram_discretize, subsample


@dataclass(frozen=True)
class UnsupervisedScores:
    gaussian_total_correlation: float
    gaussian_wasserstein_correlation: float
    gaussian_wasserstein_correlation_norm: float
    mutual_info_score: float
    num_train: int

    def as_dict(self) -> dict[str, float]:
        return {
            "gaussian_total_correlation": self.gaussian_total_correlation,
            "gaussian_wasserstein_correlation": self.gaussian_wasserstein_correlation,
            "gaussian_wasserstein_correlation_norm": self.gaussian_wasserstein_correlation_norm,
            "mutual_info_score": self.mutual_info_score,
        }


def compute_unsupervised_metrics(
    codes: np.ndarray,
    *,
    num_train: int | None = 10_000,
    num_bins: int = 20,
    seed: int | np.random.Generator = 0,
) -> UnsupervisedScores:
    """The unsupervised scores of ``codes`` (N, D) on ``num_train`` random rows (None: all)."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] < 2 or len(codes) < 3:
        raise ValueError(f"codes must be (N >= 3, D >= 2); got shape {codes.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or infinite values")
    rows = subsample(len(codes), num_train, as_rng(seed))
    return _compute_unsupervised_metrics(codes[rows], num_bins=num_bins)


def _compute_unsupervised_metrics(codes: np.ndarray, *, num_bins: int = 20) -> UnsupervisedScores:
    cov = np.cov(codes, rowvar=False)
    wasserstein = gaussian_wasserstein_correlation(cov)
    return UnsupervisedScores(
        gaussian_total_correlation=gaussian_total_correlation(cov),
        gaussian_wasserstein_correlation=wasserstein,
        gaussian_wasserstein_correlation_norm=wasserstein / float(np.trace(cov)),
        mutual_info_score=mean_pairwise_mutual_info(codes, num_bins=num_bins),
        num_train=len(codes),
    )


def gaussian_total_correlation(cov: np.ndarray) -> float:
    """½ (sum log diag Σ - log det Σ): the total correlation of N(0, Σ), in nats."""
    cov = np.asarray(cov, dtype=np.float64)
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        return float("inf")
    return float(0.5 * (np.sum(np.log(np.diag(cov))) - logdet))


def gaussian_wasserstein_correlation(cov: np.ndarray) -> float:
    """Squared 2-Wasserstein distance between N(0, Σ) and N(0, diag Σ)."""
    cov = np.asarray(cov, dtype=np.float64)
    scale = np.sqrt(np.diag(cov))
    inner = scale[:, None] * cov * scale[None, :]
    eigenvalues = np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None)
    return float(2.0 * np.trace(cov) - 2.0 * np.sum(np.sqrt(eigenvalues)))


def mean_pairwise_mutual_info(codes: np.ndarray, *, num_bins: int = 20) -> float:
    """Mean plug-in MI (nats) over ordered pairs of distinct code dimensions, 20-bin histograms."""
    codes = np.asarray(codes, dtype=np.float64)
    num_codes = codes.shape[1]
    if num_codes < 2:
        raise ValueError("pairwise MI needs at least two code dimensions")
    discrete = histogram_discretize(codes, num_bins)
    total = 0.0
    for i in range(num_codes - 1):  # I is symmetric: each unordered pair once, counted twice
        total += 2.0 * float(discrete_mutual_info(discrete[:, i], discrete[:, i + 1 :]).sum())
    return total / (num_codes**2 - num_codes)
