"""Interpretability measures against hand-computed and analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from speechrep.infomax.interpret import (
    dimension_histograms,
    interpolate,
    interpolation_scores,
    scaled_weights,
    swap_top_dims,
    total_correlation,
    tsne_embedding,
    weight_density,
)


def test_weights_are_scaled_per_class_by_max_abs_keeping_zero_at_zero():
    w = np.array([[2.0, -4.0, 0.0], [0.5, 0.25, 0.0]])
    assert np.allclose(scaled_weights(w), [[0.5, -1.0, 0.0], [1.0, 0.5, 0.0]])
    x, density = weight_density(np.random.default_rng(0).laplace(size=(3, 200)) * 0.01)
    assert x[0] == -1 and x[-1] == 1
    assert abs(x[np.argmax(density)]) < 0.05  # sparse weights: the mass peaks at 0
    assert np.trapezoid(density, x) == pytest.approx(1.0, abs=0.05)


def test_interpolation_and_top_dim_swaps():
    z1, z2 = torch.zeros(4, 3), torch.tensor([[1.0, 5.0, 2.0]]).repeat(4, 1)
    assert torch.equal(interpolate(z1, z2, 0.25), 0.75 * z2)
    swapped = swap_top_dims(z1, z2, 2)
    assert torch.equal(swapped, torch.tensor([[0.0, 5.0, 2.0]]).repeat(4, 1))


def test_interpolation_score_with_an_identity_decoder():
    torch.manual_seed(0)
    latents = torch.randn(5, 6, 8)
    relative, absolute = interpolation_scores(lambda z: z, latents, ks=[0, 2, 4, 8])
    assert relative[0] == pytest.approx(1.0) and relative[-1] == pytest.approx(0.0)
    assert np.all(np.diff(relative) <= 1e-9) and np.all(np.diff(absolute) <= 1e-9)
    # by hand for one pair: the share of the squared difference left outside the top-2 mean-diff dims
    a, b = latents[0], latents[1]
    keep = swap_top_dims(a, b, 2)
    expected = ((keep - b) ** 2).mean() / ((a - b) ** 2).mean()
    one_pair, _ = interpolation_scores(lambda z: z, latents[:2], ks=[2], max_pairs=1, seed=0)
    other, _ = interpolation_scores(lambda z: z, latents[[1, 0]], ks=[2], max_pairs=1, seed=0)
    assert expected.item() in (pytest.approx(one_pair[0]), pytest.approx(other[0]))


def test_total_correlation_of_independent_and_correlated_gaussians():
    rng = np.random.default_rng(0)
    independent = rng.standard_normal((3000, 3))
    rho = 0.8
    correlated = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=3000)
    exact = -0.5 * math.log(1 - rho**2)
    assert total_correlation(independent) == pytest.approx(0.0, abs=0.01)
    assert total_correlation(correlated) == pytest.approx(exact, abs=0.03)
    assert total_correlation(independent, "knn") == pytest.approx(0.0, abs=0.1)  # estimator bias
    assert total_correlation(correlated, "knn") == pytest.approx(exact, abs=0.1)


def test_histograms_and_tsne_shapes():
    rng = np.random.default_rng(0)
    edges, densities, normal = dimension_histograms(rng.standard_normal((5000, 4)), dims=[0, 3], bins=20)
    assert edges.shape == (21,) and densities.shape == (2, 20)
    assert np.allclose(densities, normal, atol=0.05)
    embedding = tsne_embedding(rng.standard_normal((30, 5)))
    assert embedding.shape == (30, 2)
