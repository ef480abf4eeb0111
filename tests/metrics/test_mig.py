"""MIG: perfect > rotated > random (about 0), a duplicated code scores 0, hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.metrics.mig import _mig_from_matrix, compute_mig


@pytest.fixture(scope="module")
def mig_scores(metric_code_set):
    return {
        kind: compute_mig(codes, metric_code_set.factors, num_train=2000).discrete_mig
        for kind, codes in metric_code_set.codes.items()
    }


def test_perfect_code_beats_rotated_and_random(mig_scores):
    assert mig_scores["perfect"] >= 0.9
    assert mig_scores["perfect"] > mig_scores["rotated"] + 0.5
    assert mig_scores["perfect"] > mig_scores["random"] + 0.5


def test_random_code_sits_at_chance(mig_scores):
    assert 0.0 <= mig_scores["random"] < 0.02


def test_duplicated_code_has_no_gap(metric_code_set):
    perfect = metric_code_set.codes["perfect"]
    duplicated = compute_mig(np.hstack([perfect, perfect]), metric_code_set.factors, num_train=2000)
    assert duplicated.discrete_mig == pytest.approx(0.0, abs=1e-12)


def test_hand_computed_cases():
    factor = np.array([0, 0, 1, 1])
    # Dimension 0 is the factor (two histogram bins), dimension 1 is independent of it.
    codes = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    result = compute_mig(codes, factor, num_train=None)
    assert result.discrete_mig == pytest.approx(1.0)
    np.testing.assert_allclose(result.mutual_info[:, 0], [np.log(2), 0.0], atol=1e-12)
    # From a matrix: factor 0 gap (0.6 - 0.2) / 0.8, factor 1 gap (0.9 - 0.3) / 1.2.
    mi = np.array([[0.6, 0.3], [0.2, 0.9], [0.1, 0.0]])
    assert _mig_from_matrix(mi, np.array([0.8, 1.2])).discrete_mig == pytest.approx((0.5 + 0.5) / 2)
    # A constant factor has no entropy: it is left out of the average.
    result = _mig_from_matrix(mi, np.array([0.8, 0.0]))
    assert result.discrete_mig == pytest.approx(0.5) and result.num_factors_used == 1


def test_sizes_and_validation(metric_code_set):
    result = compute_mig(metric_code_set.codes["perfect"], metric_code_set.factors, num_train=500)
    assert result.num_train == 500 and result.mutual_info.shape == (5, 3)
    with pytest.raises(ValueError, match="two code dimensions"):
        compute_mig(np.zeros((10, 1)), np.arange(10))
