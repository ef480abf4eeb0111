"""FactorVAE score: perfect > rotated > random (1/K), pruning, hand-computed votes."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.metrics.factor_vae import _majority_vote_accuracy, _vote, compute_factor_vae, prune_dims

SIZES = {"batch_size": 32, "num_train": 300, "num_eval": 300, "num_variance_estimate": 1000}


@pytest.fixture
def factor_vae_scores(metric_encoders, metric_sampler):
    return {
        kind: compute_factor_vae(encoder, metric_sampler, **SIZES)
        for kind, encoder in metric_encoders.items()
    }


def test_perfect_code_beats_rotated_and_random(factor_vae_scores):
    perfect = factor_vae_scores["perfect"]
    assert perfect.eval_accuracy >= 0.99 and perfect.num_active_dims == 5
    assert perfect.eval_accuracy > factor_vae_scores["rotated"].eval_accuracy + 0.3
    assert perfect.eval_accuracy > factor_vae_scores["random"].eval_accuracy + 0.5
    # Votes go to the factor's own dimension; the noise dimensions get none.
    np.testing.assert_array_equal(np.argmax(perfect.eval_votes, axis=1), [0, 1, 2])
    assert perfect.eval_votes[:, 3:].sum() == 0


def test_random_code_sits_at_chance(factor_vae_scores, metric_levels):
    assert factor_vae_scores["random"].eval_accuracy == pytest.approx(1 / len(metric_levels), abs=0.1)


def test_collapsed_code_scores_zero(metric_sampler):
    result = compute_factor_vae(lambda obs: np.zeros((len(obs), 4)), metric_sampler, **SIZES)
    assert (result.eval_accuracy, result.train_accuracy, result.num_active_dims) == (0.0, 0.0, 0)


def test_hand_computed_cases():
    train = np.array([[3, 0, 1], [1, 2, 0]])
    evaluation = np.array([[1, 1, 0], [2, 0, 3]])
    # Majority: dim 0 -> factor 0, dim 1 -> factor 1, dim 2 -> factor 0.
    assert _majority_vote_accuracy(train, evaluation) == pytest.approx((6 / 7, 1 / 7))
    np.testing.assert_array_equal(
        prune_dims(np.array([0.01, 0.0025, 0.0024, 4.0])), [True, True, False, True]
    )
    # Two points (0, 0, 0, 0) and (0, 2, 1, 8): batch variances (ddof 1) 0, 2, 0.5 and 32; against global
    # variances 1, 1, 1, 4 the ratios are 0, 2, 0.5, 8. Dimension 0 would win but is pruned, so the vote
    # goes to dimension 2, reported by its own index.
    codes = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 2.0, 1.0, 8.0]])
    active = np.array([False, True, True, True])
    assert _vote(codes, np.array([1.0, 1.0, 1.0, 4.0]), active) == 2
