"""Unsupervised scores: independent codes about 0, the rotated code correlated, hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from speechrep.metrics.total_correlation import (
    compute_unsupervised_metrics,
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    mean_pairwise_mutual_info,
)


@pytest.fixture(scope="module")
def unsupervised_scores(metric_code_set):
    return {kind: compute_unsupervised_metrics(codes) for kind, codes in metric_code_set.codes.items()}


def test_independent_codes_score_about_zero_and_the_rotated_code_does_not(unsupervised_scores):
    # Lower is better here. The perfect code's dimensions are independent (crossed factors), like the
    # random code's; mixing dimensions of unequal variance makes them dependent.
    for kind in ("perfect", "random"):
        scores = unsupervised_scores[kind]
        assert scores.gaussian_total_correlation < 0.01  # bias about D (D - 1) / (4 N) = 0.0017
        assert scores.gaussian_wasserstein_correlation_norm < 0.01
    assert unsupervised_scores["random"].mutual_info_score < 0.08  # plug-in bias, at most 19^2 / (2 N)
    rotated = unsupervised_scores["rotated"]
    assert rotated.gaussian_total_correlation > 1.0
    assert rotated.mutual_info_score > 5 * unsupervised_scores["perfect"].mutual_info_score


def test_hand_computed_cases():
    rho = 0.6
    cov = np.array([[1.0, rho], [rho, 1.0]])
    assert gaussian_total_correlation(cov) == pytest.approx(-0.5 * np.log(1 - rho**2))
    assert gaussian_total_correlation(np.diag([2.0, 0.5, 3.0])) == pytest.approx(0.0, abs=1e-12)
    assert gaussian_total_correlation(np.ones((2, 2))) == np.inf
    assert gaussian_wasserstein_correlation(cov) == pytest.approx(
        4 - 2 * (np.sqrt(1 + rho) + np.sqrt(1 - rho))
    )
    # The library's form, 2 tr S - 2 tr sqrtm(diag(S) S), on a random covariance.
    a = np.random.default_rng(0).standard_normal((4, 4))
    s = a @ a.T + np.eye(4)
    library = 2 * np.trace(s) - 2 * np.trace(scipy.linalg.sqrtm(s * np.diag(s)[:, None])).real
    assert gaussian_wasserstein_correlation(s) == pytest.approx(library, rel=1e-8)
    # x = y, w independent: I(x; y) = log 2 over 6 ordered pairs, twice.
    x = np.array([0.0, 0.0, 1.0, 1.0])
    codes = np.stack([x, x, [0.0, 1.0, 0.0, 1.0]], axis=1)
    assert mean_pairwise_mutual_info(codes) == pytest.approx(2 * np.log(2) / 6)


def test_sizes_and_validation(metric_code_set):
    assert compute_unsupervised_metrics(metric_code_set.codes["random"], num_train=500).num_train == 500
    with pytest.raises(ValueError, match="D >= 2"):
        compute_unsupervised_metrics(np.zeros((10, 1)))
