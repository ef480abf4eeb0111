"""Post-hoc interpretability of InfoMax latents (Smooth InfoMax, Denoodt et al. 2025, §5).

- **Weight densities** (:func:`scaled_weights`, :func:`weight_density`): the weights of a bias-free
  linear probe on a module, each class row divided by its own max |w| (so 0 stays at 0, unlike
  SIM's min-max scaling), pooled and smoothed with a Gaussian KDE on [-1, 1]. A sharper peak at 0
  means the class information sits in fewer dimensions.
- **Latent edits**: linear interpolation ``z = α z₁ + (1 - α) z₂`` (:func:`interpolate`) and
  partial interpolation (:func:`swap_top_dims`): the ``K`` dimensions with the largest squared
  difference of time-averaged latents, ``(mean_t z_i - mean_t z_j)²``, are copied from ``z_j``
  into ``z_i`` at every frame.
- **Interpolation contribution score** (:func:`interpolation_scores`): for ordered pairs
  ``(i, j)``, ``i ≠ j``, the relative error left after swapping the top-K dimensions,

      r_K = mean_{(i, j)} MSE(dec(swap_K(z_i, z_j)), dec(z_j)) / MSE(dec(z_i), dec(z_j)),

  so ``r_0 = 1`` and ``r_D = 0``; small ``r_K`` at small ``K`` means the information that tells
  latents apart is concentrated in few dimensions. With the identity as decoder ``r_K`` is the
  share of the squared difference in the dimensions not swapped.
- **t-SNE** of time-mean latents (:func:`tsne_embedding`; random init, perplexity ``√n`` capped
  below ``n``), **per-dimension histograms** against the N(0, 1) density
  (:func:`dimension_histograms`).
- **Total correlation** ``TC = Σ_i H(z_i) - H(z)`` (:func:`total_correlation`): under a Gaussian
  fit (:func:`speechrep.metrics.total_correlation.gaussian_total_correlation`) or with the
  Kozachenko-Leonenko k-nearest-neighbour entropy estimator,

      Ĥ(z) = ψ(N) - ψ(k) + log V_d + (d / N) Σ_n log ε_n,

  ``ε_n`` the Euclidean distance from sample ``n`` to its k-th neighbour and ``V_d`` the volume
  of the d-dimensional unit ball (Kraskov et al. 2004, eq. 20) — instead of SIM's 512-d KDE.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.special import digamma, gammaln
from scipy.stats import gaussian_kde
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors
from torch import Tensor

from speechrep.metrics.total_correlation import gaussian_total_correlation


def scaled_weights(weight: Tensor | np.ndarray) -> np.ndarray:
    """``(C, D)`` probe weights with each class row divided by its max |w| (values in [-1, 1])."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"expected a (classes, dims) weight matrix, got shape {w.shape}")
    peak = np.abs(w).max(axis=1, keepdims=True)
    return np.divide(w, peak, out=np.zeros_like(w), where=peak > 0)


def weight_density(
    weight: Tensor | np.ndarray, grid: int = 201, bw_adjust: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """KDE of all :func:`scaled_weights` on ``grid`` points of [-1, 1]: ``(x, density)``."""
    values = scaled_weights(weight).ravel()
    kde = gaussian_kde(values)
    kde.set_bandwidth(kde.factor * bw_adjust)
    x = np.linspace(-1.0, 1.0, grid)
    return x, kde(x)


def interpolate(z1: Tensor, z2: Tensor, alpha: float) -> Tensor:
    """``α z₁ + (1 - α) z₂``."""
    return alpha * z1 + (1.0 - alpha) * z2


def top_dims(z_i: Tensor, z_j: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` dims with the largest ``(mean_t z_i - mean_t z_j)²`` (``(L, D)`` inputs)."""
    difference = (z_i.mean(dim=-2) - z_j.mean(dim=-2)).pow(2)
    return difference.argsort(dim=-1, descending=True)[..., :k]


def swap_top_dims(z_i: Tensor, z_j: Tensor, k: int) -> Tensor:
    """``z_i`` with its top-``k`` differing dims (:func:`top_dims`) taken from ``z_j``; ``(L, D)`` each."""
    out = z_i.clone()
    dims = top_dims(z_i, z_j, k)
    out[:, dims] = z_j[:, dims]
    return out


@torch.no_grad()
def interpolation_scores(
    decode: Callable[[Tensor], Tensor],
    latents: Tensor,
    ks: Sequence[int],
    max_pairs: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Relative and absolute errors ``r_K`` (module docstring) for each ``K`` in ``ks``.

    Args:
        decode: ``(P, L, D)`` latents -> ``(P, ...)`` reconstructions (a trained decoder).
        latents: ``(N, L, D)`` latents of ``N`` utterances of equal length.
        ks: numbers of swapped dims.
        max_pairs: use a seeded random subset of the ``N (N - 1)`` ordered pairs.
    """
    if latents.ndim != 3 or len(latents) < 2:
        raise ValueError(f"need (N >= 2, L, D) latents, got {tuple(latents.shape)}")
    pairs = list(itertools.permutations(range(len(latents)), 2))
    if max_pairs is not None and max_pairs < len(pairs):
        chosen = np.random.default_rng(seed).choice(len(pairs), size=max_pairs, replace=False)
        pairs = [pairs[i] for i in sorted(chosen)]
    first = latents[[i for i, _ in pairs]]
    second = latents[[j for _, j in pairs]]
    decoded_first, decoded_second = decode(first), decode(second)
    dims = tuple(range(1, decoded_second.ndim))
    base = (decoded_first - decoded_second).pow(2).mean(dim=dims)
    relative, absolute = [], []
    for k in ks:
        swapped = torch.stack([swap_top_dims(a, b, k) for a, b in zip(first, second)])
        error = (decode(swapped) - decoded_second).pow(2).mean(dim=dims)
        absolute.append(float(error.mean()))
        relative.append(float((error / base.clamp_min(1e-12)).mean()))
    return np.array(relative), np.array(absolute)


def tsne_embedding(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of ``(N, D)`` features (random init, automatic learning rate, perplexity √N)."""
    features = np.asarray(features, dtype=np.float64)
    perplexity = min(math.sqrt(len(features)), len(features) - 1.0)
    return TSNE(
        2, init="random", learning_rate="auto", perplexity=perplexity, random_state=seed
    ).fit_transform(features)


def dimension_histograms(
    latents: np.ndarray, dims: Sequence[int], bins: int = 50, limit: float = 4.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Density histograms of the chosen dims on [-limit, limit], with the N(0, 1) density per bin.

    Returns ``(edges (bins + 1,), densities (len(dims), bins), normal (bins,))``.
    """
    latents = np.asarray(latents)
    edges = np.linspace(-limit, limit, bins + 1)
    densities = np.stack([np.histogram(latents[:, d], bins=edges, density=True)[0] for d in dims])
    centres = (edges[:-1] + edges[1:]) / 2
    return edges, densities, np.exp(-0.5 * centres**2) / math.sqrt(2 * math.pi)


def knn_entropy(samples: np.ndarray, k: int = 3) -> float:
    """Kozachenko-Leonenko entropy (nats) of ``(N, d)`` samples (module docstring)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 1:
        samples = samples[:, None]
    n, d = samples.shape
    if n <= k:
        raise ValueError(f"need more than k={k} samples, got {n}")
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(samples).kneighbors(samples)
    eps = np.maximum(distances[:, k], 1e-12)
    log_unit_ball = (d / 2) * math.log(math.pi) - gammaln(d / 2 + 1)
    return float(digamma(n) - digamma(k) + log_unit_ball + d * np.log(eps).mean())


def total_correlation(latents: np.ndarray, method: str = "gaussian", k: int = 3) -> float:
    """``Σ_i H(z_i) - H(z)`` of ``(N, D)`` latents, ``"gaussian"`` or ``"knn"`` (module docstring)."""
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 2 or latents.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) latents, got shape {latents.shape}")
    if method == "gaussian":
        return gaussian_total_correlation(np.cov(latents, rowvar=False))
    if method == "knn":
        marginals = sum(knn_entropy(latents[:, i], k) for i in range(latents.shape[1]))
        return marginals - knn_entropy(latents, k)
    raise ValueError(f"unknown total-correlation method {method!r}; use 'gaussian' or 'knn'")
