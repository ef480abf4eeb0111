"""InfoNCE with K prediction steps and negatives from the whole batch, and the KL to N(0, I).

**InfoNCE** (van den Oord et al. 2018, "Representation Learning with Contrastive Predictive
Coding"; per module as in Löwe et al. 2019 and Denoodt et al. 2025). For context frames
``c_t`` (B, L, D_c) and target frames ``z_t`` (B, L, D_z), step ``k = 1..K`` has its own linear
predictor ``W_k`` (no bias) and scores

    f⁺ = ⟨W_k c_t, z_{t+k}⟩,    f⁻_j = ⟨W_k c_t, z⁻_j⟩,  j = 1..N,

    ℓ_k = - mean_{b, t < L - k} log softmax([f⁺, f⁻_1, ..., f⁻_N])_0,    loss = (1/K) Σ_k ℓ_k.

Each target position gets N negatives drawn once per call, uniformly from all ``B · L`` target
frames of the batch *except itself* (so a perfect predictor reaches loss 0; SIM's code may draw
the positive as a negative), shared by every ``k``. Chance level is ``log(N + 1)``; the mutual
information bound is ``I(c_t; z_{t+k}) >= log(N + 1) - ℓ_k``. With a window ``W``, sequences
longer than ``W`` frames are scored on one random window of ``W`` frames (the same for context
and target; negatives still come from all frames). Randomness uses torch's global generator
unless one is passed.

**KL** of ``q = N(μ, diag σ²)`` to ``N(0, I)``, per element

    kl = -½ (1 + log σ² - μ² - σ²),

reduced either ``"per_frame"`` (sum over latent dims, mean over batch and frames: ``D · mean kl``,
the standard VAE reduction) or ``"sum_over_time"`` (sum over frames, mean over batch and dims:
``L · mean kl``, SIM's code, whose effective β grows with the number of frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speechrep.infomax.config import KLReduction


def gaussian_kl(mu: Tensor, logvar: Tensor, reduction: KLReduction = "per_frame") -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) of ``(B, L, D)`` posteriors, reduced as in the module docstring."""
    if mu.shape != logvar.shape or mu.ndim != 3:
        raise ValueError(
            f"mu and logvar must both be (B, L, D), got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp())
    if reduction == "per_frame":
        return kl.sum(dim=2).mean()
    if reduction == "sum_over_time":
        return kl.sum(dim=1).mean()
    raise ValueError(f"unknown KL reduction {reduction!r}; use 'per_frame' or 'sum_over_time'")


@dataclass
class InfoNCEOutput:
    """InfoNCE of one module.

    Attributes:
        loss: (1/K) Σ_k ℓ_k, a scalar.
        step_losses: ``(K,)`` the ℓ_k.
        accuracy: fraction of (position, step) pairs whose positive scores above every negative.
    """

    loss: Tensor
    step_losses: Tensor
    accuracy: Tensor


def draw_negatives(batch: int, length: int, num: int, generator: torch.Generator | None = None) -> Tensor:
    """``(B, L, N)`` flat row indices into ``B · L`` frames; row ``(b, t)`` never gets ``b · L + t``."""
    total = batch * length
    if total < 2:
        raise ValueError("InfoNCE needs at least two target frames in the batch to draw negatives")
    positives = torch.arange(total).view(batch, length, 1)
    draws = torch.randint(0, total - 1, (batch, length, num), generator=generator)
    return draws + (draws >= positives).long()


class InfoNCE(nn.Module):
    """The InfoNCE objective of one module, with its K step predictors.

    Args:
        context_dim: D_c of the context frames.
        target_dim: D_z of the target frames.
        prediction_steps: K.
        num_negatives: N.
        subsample_window: score sequences longer than this on one random window (``None``: never).
    """

    def __init__(
        self,
        context_dim: int,
        target_dim: int,
        prediction_steps: int,
        num_negatives: int,
        subsample_window: int | None = None,
    ) -> None:
        super().__init__()
        self.prediction_steps = int(prediction_steps)
        self.num_negatives = int(num_negatives)
        self.subsample_window = subsample_window
        self.target_dim = int(target_dim)
        self.predictor = nn.Linear(context_dim, target_dim * self.prediction_steps, bias=False)

    def forward(
        self, context: Tensor, target: Tensor, generator: torch.Generator | None = None
    ) -> InfoNCEOutput:
        """InfoNCE of ``(B, L, D_c)`` context frames predicting ``(B, L, D_z)`` target frames."""
        if context.shape[:2] != target.shape[:2]:
            raise ValueError(
                f"context {tuple(context.shape)} and target {tuple(target.shape)} need the same (B, L)"
            )
        batch, length, _ = target.shape
        negatives = draw_negatives(batch, length, self.num_negatives, generator).to(target.device)
        start, stop = 0, length
        if self.subsample_window is not None and length > self.subsample_window:
            start = int(torch.randint(0, length - self.subsample_window + 1, (1,), generator=generator))
            stop = start + self.subsample_window
        window = stop - start
        if window <= self.prediction_steps:
            raise ValueError(
                f"InfoNCE with K={self.prediction_steps} prediction steps needs more than "
                f"{self.prediction_steps} frames, got {window}; use longer crops or fewer steps"
            )
        steps = self.prediction_steps
        predictions = self.predictor(context[:, start:stop]).view(batch, window, steps, -1)
        # Align every prediction with the frame it predicts: aligned[:, t, k - 1] = W_k c_{t-k}
        # (valid for t >= k), so that all K steps are scored against each target frame's negatives
        # in one batched product instead of K slices of the negatives.
        ks = torch.arange(1, steps + 1, device=target.device)
        source = torch.arange(window, device=target.device)[:, None] - ks  # (W, K): t - k
        valid = source >= 0
        aligned = predictions[:, source.clamp(min=0), ks - 1]  # (B, W, K, D)
        window_target = target[:, start:stop]
        window_negatives = target.reshape(batch * length, self.target_dim)[negatives[:, start:stop]]
        positive = (aligned * window_target.unsqueeze(2)).sum(-1, keepdim=True)  # (B, W, K, 1)
        negative = torch.einsum("bwkd,bwnd->bwkn", aligned, window_negatives)  # (B, W, K, N)
        logits = torch.cat([positive, negative], dim=-1)
        counts = valid.sum(dim=0) * batch  # (K,): B (W - k) scored positions per step
        nll = -F.log_softmax(logits, dim=-1)[..., 0]
        step_losses = torch.where(valid, nll, 0.0).sum(dim=(0, 1)) / counts
        correct = ((logits.argmax(-1) == 0) & valid).sum()
        return InfoNCEOutput(step_losses.mean(), step_losses, (correct / counts.sum()).detach())

    @property
    def chance_level(self) -> float:
        """``log(N + 1)``: the loss of a predictor that cannot tell the positive from the negatives."""
        return math.log(self.num_negatives + 1)
