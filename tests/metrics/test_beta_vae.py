"""β-VAE score: perfect > rotated > random (1/K), hand-computed feature and classifier cases."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.metrics.beta_vae import _difference_feature, _fit_and_score, compute_beta_vae

SIZES = {"batch_size": 32, "num_train": 300, "num_eval": 300}


@pytest.fixture
def beta_vae_scores(metric_encoders, metric_sampler):
    return {
        kind: compute_beta_vae(encoder, metric_sampler, **SIZES) for kind, encoder in metric_encoders.items()
    }


def test_perfect_code_beats_rotated_and_random(beta_vae_scores):
    perfect = beta_vae_scores["perfect"]
    assert perfect.eval_accuracy >= 0.99 and perfect.train_accuracy >= 0.99
    assert perfect.eval_accuracy > beta_vae_scores["rotated"].eval_accuracy + 0.1
    assert perfect.eval_accuracy > beta_vae_scores["random"].eval_accuracy + 0.5


def test_random_code_sits_at_chance(beta_vae_scores, metric_levels):
    assert beta_vae_scores["random"].eval_accuracy == pytest.approx(1 / len(metric_levels), abs=0.1)


def test_hand_computed_cases():
    codes1 = np.array([[0.0, 1.0], [2.0, 3.0]])
    codes2 = np.array([[1.0, 1.0], [-1.0, 3.5]])
    np.testing.assert_allclose(_difference_feature(codes1, codes2), [(1 + 3) / 2, (0 + 0.5) / 2])
    # Label k has a small difference in dimension k: linearly separable, accuracy 1.
    points = np.array([[0.1, 1.0], [0.2, 0.9], [1.0, 0.1], [0.9, 0.2]])
    labels = np.array([0, 0, 1, 1])
    assert _fit_and_score(points, labels, points[::-1], labels[::-1]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="two factors"):
        _fit_and_score(points, np.zeros(4, dtype=int), points, labels)


def test_reproducible_with_a_seed(metric_sampler, metric_encoders):
    from copy import deepcopy

    encoder = metric_encoders["rotated"]
    first = compute_beta_vae(
        deepcopy(encoder), metric_sampler, batch_size=8, num_train=50, num_eval=50, seed=3
    )
    second = compute_beta_vae(
        deepcopy(encoder), metric_sampler, batch_size=8, num_train=50, num_eval=50, seed=3
    )
    assert first == second
