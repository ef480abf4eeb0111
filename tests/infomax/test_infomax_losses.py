"""InfoNCE and KL against hand-computed values and their chance / perfect limits."""

from __future__ import annotations

import math

import pytest
import torch

from speechrep.infomax.losses import InfoNCE, draw_negatives, gaussian_kl


def test_kl_is_zero_at_the_standard_normal_and_positive_elsewhere():
    zeros = torch.zeros(2, 5, 3)
    assert gaussian_kl(zeros, zeros).item() == 0.0
    assert gaussian_kl(zeros, zeros, "sum_over_time").item() == 0.0
    assert gaussian_kl(zeros + 0.1, zeros).item() > 0
    assert gaussian_kl(zeros, zeros - 0.5).item() > 0


def test_kl_reductions_follow_their_formulas():
    batch, frames, dims = 2, 7, 3
    mu, logvar = torch.ones(batch, frames, dims), torch.zeros(batch, frames, dims)  # kl = 1/2 per element
    assert gaussian_kl(mu, logvar, "per_frame").item() == pytest.approx(dims * 0.5)
    assert gaussian_kl(mu, logvar, "sum_over_time").item() == pytest.approx(frames * 0.5)
    with pytest.raises(ValueError, match="reduction"):
        gaussian_kl(mu, logvar, "mean")


def test_negatives_never_include_the_positive_and_cover_the_batch():
    torch.manual_seed(0)
    idx = draw_negatives(3, 5, 200)
    assert idx.shape == (3, 5, 200)
    own = torch.arange(15).view(3, 5, 1)
    assert not (idx == own).any()
    assert set(idx.unique().tolist()) == set(range(15))  # every other frame of every utterance


def test_infonce_of_a_zero_predictor_is_exactly_chance():
    objective = InfoNCE(4, 6, prediction_steps=3, num_negatives=10)
    torch.nn.init.zeros_(objective.predictor.weight)
    out = objective(torch.randn(2, 20, 4), torch.randn(2, 20, 6))
    assert out.loss.item() == pytest.approx(math.log(11), abs=1e-6)
    assert out.step_losses.shape == (3,)


def test_infonce_of_independent_context_and_targets_is_near_chance():
    torch.manual_seed(0)
    objective = InfoNCE(16, 16, prediction_steps=4, num_negatives=10)
    torch.nn.init.normal_(objective.predictor.weight, std=0.003)
    out = objective(torch.randn(8, 64, 16), torch.randn(8, 64, 16))
    assert out.loss.item() == pytest.approx(math.log(11), abs=0.01)


def test_infonce_of_a_perfect_predictor_goes_to_zero():
    torch.manual_seed(0)
    batch, length, dims = 2, 30, 64  # 60 frames, nearly orthogonal random directions
    target = torch.nn.functional.normalize(torch.randn(batch, length, dims), dim=-1)
    context = torch.zeros_like(target)
    context[:, :-1] = target[:, 1:]  # c_t = z_{t+1}
    objective = InfoNCE(dims, dims, prediction_steps=1, num_negatives=10)
    with torch.no_grad():
        objective.predictor.weight.copy_(torch.eye(dims) * 100.0)  # W c_t = 100 z_{t+1}
    out = objective(context, target)
    assert out.loss.item() < 1e-3
    assert out.accuracy.item() == 1.0


def test_infonce_subsamples_long_sequences_and_rejects_short_windows():
    objective = InfoNCE(4, 4, prediction_steps=2, num_negatives=3, subsample_window=8)
    out = objective(torch.randn(1, 100, 4), torch.randn(1, 100, 4))
    assert torch.isfinite(out.loss)
    with pytest.raises(ValueError, match="needs more than 2 frames"):
        objective(torch.randn(1, 2, 4), torch.randn(1, 2, 4))
