"""SAP: perfect > rotated > random (about 0), the continuous branch, hand-computed gaps."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.metrics.sap import compute_avg_diff_top_two, compute_sap, compute_score_matrix


@pytest.fixture(scope="module")
def sap_scores(metric_code_set):
    return {
        kind: compute_sap(codes, metric_code_set.factors, num_train=1500, num_test=750)
        for kind, codes in metric_code_set.codes.items()
    }


def test_perfect_code_beats_rotated_and_random(sap_scores):
    perfect = sap_scores["perfect"]
    assert perfect.sap_score > sap_scores["rotated"].sap_score + 0.1
    assert perfect.sap_score > sap_scores["random"].sap_score + 0.1
    # The binary factor is read off its own dimension perfectly; a 1-D linear one-vs-rest
    # classifier cannot separate the middle levels of the 5- and 10-level factors.
    assert perfect.score_matrix[2, 2] == pytest.approx(1.0)
    np.testing.assert_array_equal(np.argmax(perfect.score_matrix, axis=0), [0, 1, 2])


def test_random_code_sits_at_chance(sap_scores):
    assert 0.0 <= sap_scores["random"].sap_score < 0.03


def test_continuous_factors_give_about_one_on_the_perfect_code(metric_code_set):
    result = compute_sap(
        metric_code_set.codes["perfect"], metric_code_set.factors, num_train=1500, num_test=750,
        continuous_factors=True,
    )  # fmt: skip
    assert result.sap_score > 0.99


def test_hand_computed_cases():
    matrix = np.array([[0.9, 0.2], [0.3, 0.6], [0.1, 0.5]])
    assert compute_avg_diff_top_two(matrix) == pytest.approx(((0.9 - 0.3) + (0.6 - 0.5)) / 2)
    # Continuous: squared correlation; z0 = v exactly (1), z1 = -2 v (1), z2 constant (0), z3 ⟂ v (0).
    v = np.array([[0.0], [1.0], [2.0], [3.0]])
    z = np.hstack([v, -2 * v, np.ones((4, 1)), np.array([[1.0], [-1.0], [-1.0], [1.0]])])
    scores = compute_score_matrix(z, v, z, v, continuous_factors=True)
    np.testing.assert_allclose(scores[:, 0], [1.0, 1.0, 0.0, 0.0], atol=1e-12)
