"""IRS: perfect > rotated > random, chance as a permutation null, a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.metrics.irs import compute_irs


@pytest.fixture(scope="module")
def irs_scores(metric_code_set):
    return {
        kind: compute_irs(codes, metric_code_set.factors, num_train=2000)
        for kind, codes in metric_code_set.codes.items()
    }


def test_perfect_code_beats_rotated_and_random(irs_scores):
    perfect = irs_scores["perfect"]
    assert perfect.irs > irs_scores["rotated"].irs + 0.2
    assert perfect.irs > irs_scores["random"].irs + 0.2
    # Factor dimensions are robust (about 1) and map to their factor; the noise dimensions are not.
    assert np.all(perfect.disentanglement_scores[:3] > 0.95)
    np.testing.assert_array_equal(perfect.parents[:3], [0, 1, 2])
    assert np.all(perfect.disentanglement_scores[3:] < 0.5)


def test_perfect_code_without_noise_dimensions_scores_about_one(metric_code_set):
    result = compute_irs(metric_code_set.codes["perfect"][:, :3], metric_code_set.factors, num_train=2000)
    assert result.irs >= 0.95


def test_random_code_sits_at_chance(irs_scores, metric_code_set):
    shuffled = metric_code_set.factors[np.random.default_rng(5).permutation(len(metric_code_set.factors))]
    null = compute_irs(metric_code_set.codes["random"], shuffled, num_train=2000)
    assert irs_scores["random"].irs == pytest.approx(null.irs, abs=0.05)
    assert irs_scores["random"].irs < 0.45  # the 99 % quantile against the maximum of Gaussian noise


def test_hand_computed_case():
    # Crossed binary factors; z0 = f0, z1 = f0 + f1, z2 constant (dropped).
    factors = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    codes = np.stack([factors[:, 0], factors.sum(axis=1), np.full(4, 3.0)], axis=1).astype(float)
    result = compute_irs(codes, factors, num_train=None, diff_quantile=1.0)
    # z0: fixing f0 leaves it still (1), fixing f1 leaves its full deviation 0.5 of 0.5 (0): IRS_0 = 1.
    # z1 (mean 1, max deviation 1): fixing either factor leaves deviation 0.5: IRS_1 = 0.5.
    np.testing.assert_allclose(result.irs_matrix, [[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(result.max_deviations, [0.5, 1.0])
    assert result.irs == pytest.approx((0.5 * 1.0 + 1.0 * 0.5) / 1.5)
    assert result.num_active_dims == 2 and result.active_dims.tolist() == [0, 1]
    assert compute_irs(np.ones((4, 2)), factors, num_train=None).irs == 0.0
    labels = np.array([["a", "x"], ["a", "y"], ["b", "x"], ["b", "y"]])  # the same factors as strings
    assert compute_irs(codes, labels, num_train=None, diff_quantile=1.0).irs == pytest.approx(result.irs)
