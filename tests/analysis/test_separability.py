"""eta^2: 1 for point classes, chance level for unrelated features, a hand-computed case."""

import numpy as np
import pytest

from speechrep.analysis import class_separability


def test_point_classes_score_one_and_unrelated_features_sit_at_chance():
    labels = np.repeat(np.arange(5), 40)
    points = np.random.default_rng(0).standard_normal((5, 8))[labels]
    assert class_separability(points, labels).score == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    scores = [class_separability(rng.standard_normal((200, 8)), labels).score for _ in range(200)]
    chance = class_separability(points, labels).chance
    assert chance == pytest.approx(4 / 199)
    assert np.mean(scores) == pytest.approx(chance, rel=0.1)


def test_hand_computed_case_and_invariances():
    x = np.array([[0.0], [2.0], [4.0], [6.0]])
    y = np.array(["a", "a", "b", "b"])
    # total: 9+1+1+9 = 20; means 1 and 5 around 3: between = 2*4 + 2*4 = 16
    assert class_separability(x, y).score == pytest.approx(0.8)
    assert class_separability(3 * x + 7, y).score == pytest.approx(0.8)  # affine invariance
    assert class_separability(x, np.array([1, 1, 0, 0])).score == pytest.approx(0.8)  # relabelling
    with pytest.raises(ValueError, match="constant"):
        class_separability(np.ones((4, 2)), y)
