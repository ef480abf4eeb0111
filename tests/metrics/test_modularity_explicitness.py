"""Modularity and explicitness: ordering, chance levels (a permutation null), hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.metrics.modularity_explicitness import (
    _macro_auc,
    compute_modularity_explicitness,
    modularity,
)

SIZES = {"num_train": 1500, "num_test": 750}


@pytest.fixture(scope="module")
def me_scores(metric_code_set):
    return {
        kind: compute_modularity_explicitness(codes, metric_code_set.factors, **SIZES)
        for kind, codes in metric_code_set.codes.items()
    }


def test_perfect_code_beats_rotated_and_random(me_scores):
    perfect = me_scores["perfect"]
    assert perfect.modularity_score > me_scores["rotated"].modularity_score + 0.2
    assert perfect.modularity_score > me_scores["random"].modularity_score
    assert perfect.explicitness_score_test >= 0.99
    assert perfect.explicitness_score_test > me_scores["random"].explicitness_score_test + 0.4
    # Explicitness reads factors with a linear classifier on the whole code, so a rotation of the
    # code does not hide them: the entangled code is as explicit as the perfect one.
    assert me_scores["rotated"].explicitness_score_test == pytest.approx(
        perfect.explicitness_score_test, abs=0.01
    )


def test_random_code_sits_at_chance(me_scores, metric_code_set):
    random = me_scores["random"]
    assert random.explicitness_score_test == pytest.approx(0.5, abs=0.03)
    # Modularity's chance level is far from 0 here: the plug-in MI bias of a noise dimension grows with
    # each factor's number of levels, so the 10-level factor dominates it. The null is the same code
    # scored against shuffled factors.
    shuffled = metric_code_set.factors[np.random.default_rng(5).permutation(len(metric_code_set.factors))]
    null = compute_modularity_explicitness(metric_code_set.codes["random"], shuffled, **SIZES)
    assert random.modularity_score > 0.7
    assert random.modularity_score == pytest.approx(null.modularity_score, abs=0.05)


def test_hand_computed_modularity():
    # disentanglement_lib's modularity_explicitness_test cases.
    diagonal = np.diag(5.0 * np.ones(5))
    assert modularity(diagonal) == pytest.approx(1.0)
    assert modularity(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])) == pytest.approx(2 / 3)
    assert modularity(np.zeros((10, 10))) == 0.0
    assert modularity(np.vstack([diagonal, diagonal])) == pytest.approx(1.0)
    assert modularity(diagonal[:2]) == pytest.approx(1.0)
    assert modularity(np.hstack([diagonal, diagonal])) == pytest.approx(1 - 1 / 9)
    # Row (2, 1, 1): theta^2 = 4, delta = (1 + 1) / (4 * 2) = 1/4.
    assert modularity(np.array([[2.0, 1.0, 1.0]])) == pytest.approx(0.75)
    assert np.isnan(modularity(np.ones((3, 1))))


def test_hand_computed_auc():
    labels = np.array([0, 0, 1, 1])
    p1 = np.array([0.1, 0.6, 0.4, 0.9])
    probabilities = np.stack([1 - p1, p1], axis=1)
    # Positive-negative pairs ranked correctly: (.4>.1), (.9>.1), (.9>.6) of 4 -> 3/4 for both columns.
    assert _macro_auc(labels, probabilities, np.array([0, 1])) == pytest.approx(0.75)
    # A class absent from the split (label 2) is left out of the macro average instead of failing.
    three = np.hstack([probabilities * 0.9, np.full((4, 1), 0.1)])
    assert _macro_auc(labels, three, np.array([0, 1, 2])) == pytest.approx(0.75)
