"""DCI: perfect > rotated > random, chance informativeness, the fast option, hand-computed matrices."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.metrics.dci import (
    completeness,
    completeness_per_factor,
    compute_dci,
    disentanglement,
    disentanglement_per_code,
)

SIZES = {"num_train": 600, "num_test": 300}


@pytest.fixture(scope="module")
def dci_scores(metric_code_set):
    return {
        kind: compute_dci(codes, metric_code_set.factors, fast=True, **SIZES)
        for kind, codes in metric_code_set.codes.items()
    }


def test_perfect_code_beats_rotated_and_random(dci_scores):
    perfect = dci_scores["perfect"]
    assert perfect.disentanglement >= 0.9 and perfect.completeness >= 0.9
    assert perfect.informativeness_test >= 0.95
    for other in ("rotated", "random"):
        assert perfect.disentanglement > dci_scores[other].disentanglement + 0.5
        assert perfect.completeness > dci_scores[other].completeness + 0.5
        assert perfect.informativeness_test > dci_scores[other].informativeness_test
    # The importances of the perfect code sit on its factor dimensions, one per factor.
    np.testing.assert_array_equal(np.argmax(perfect.importance_matrix, axis=0), [0, 1, 2])


def test_random_code_sits_at_chance(dci_scores, metric_levels):
    random = dci_scores["random"]
    assert random.disentanglement < 0.1 and random.completeness < 0.1
    chance = np.mean([1 / level for level in metric_levels])  # uniform factors
    assert random.informativeness_test == pytest.approx(chance, abs=0.06)


def test_fast_option_agrees_in_structure_with_the_default(metric_mixed_code):
    codes, factors = metric_mixed_code
    default = compute_dci(codes, factors, **SIZES)
    fast = compute_dci(codes, factors, fast=True, **SIZES)
    normalised = [r.importance_matrix / r.importance_matrix.sum(axis=0) for r in (default, fast)]
    np.testing.assert_array_equal(np.argmax(normalised[0], axis=0), np.argmax(normalised[1], axis=0))
    assert np.max(np.abs(normalised[0] - normalised[1])) < 0.1
    # The mixed code is a genuinely intermediate case, and both settings see it the same way.
    assert 0.3 < default.disentanglement < 0.9
    assert fast.disentanglement == pytest.approx(default.disentanglement, abs=0.05)
    assert fast.completeness == pytest.approx(default.completeness, abs=0.05)
    assert fast.informativeness_test == pytest.approx(default.informativeness_test, abs=0.05)


def test_hand_computed_matrices():
    # disentanglement_lib's dci_test cases.
    diagonal = np.diag(5.0 * np.ones(5))
    assert disentanglement(diagonal) == pytest.approx(1.0) and completeness(diagonal) == pytest.approx(1.0)
    empty_codes = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert disentanglement(empty_codes) == pytest.approx(1.0)
    assert completeness(empty_codes) == pytest.approx(1.0)
    assert disentanglement(np.zeros((10, 10))) == 0.0 and completeness(np.zeros((10, 10))) == 0.0
    redundant = np.vstack([diagonal, diagonal])
    assert disentanglement(redundant) == pytest.approx(1.0)
    assert completeness(redundant) == pytest.approx(1.0 - np.log(2) / np.log(10))
    assert disentanglement(diagonal[:2]) == pytest.approx(1.0) and completeness(
        diagonal[:2]
    ) == pytest.approx(1.0)
    shared = np.hstack([diagonal, diagonal])
    assert disentanglement(shared) == pytest.approx(1.0 - np.log(2) / np.log(10))
    assert completeness(shared) == pytest.approx(1.0)
    # R = [[1, 1], [0, 1]]: code 0 splits evenly (D_0 = 0), code 1 is pure (D_1 = 1), rho = (2/3, 1/3);
    # factor 0 uses code 0 only (C_0 = 1), factor 1 splits evenly (C_1 = 0), weights (1/3, 2/3).
    r = np.array([[1.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(disentanglement_per_code(r), [0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(completeness_per_factor(r), [1.0, 0.0], atol=1e-9)
    assert disentanglement(r) == pytest.approx(1 / 3) and completeness(r) == pytest.approx(1 / 3)
    # One factor or one code: the base-1 entropy is replaced by a score of 1.
    assert disentanglement(np.array([[2.0], [1.0]])) == pytest.approx(1.0)
    assert completeness(np.array([[2.0, 1.0]])) == pytest.approx(1.0)


def test_grouped_split_and_validation(metric_code_set):
    codes, factors = metric_code_set.codes["perfect"], metric_code_set.factors
    groups = np.arange(len(codes)) // 10
    result = compute_dci(codes, factors, fast=True, groups=groups, num_train=300, num_test=150)
    assert result.num_train == 300 and result.num_test == 150
    assert result.disentanglement > 0.9
    constant = factors.copy()
    constant[:, 1] = 0
    with pytest.raises(ValueError, match="constant"):
        compute_dci(codes, constant, fast=True, num_train=100, num_test=50)
