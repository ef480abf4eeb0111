"""``GreedyInfoMax``: an InfoMax encoder with one InfoNCE (+ KL) objective per module.

The training loss is the sum of the module losses,

    L = Σ_m [ InfoNCE_m + β · KL_m ],    KL_m = KL(q_m(z | x) ‖ N(0, I)) for variational modules,

with module outputs detached before the next module reads them, so one backward pass of L gives
every module the gradient of its own loss only (greedy training, Löwe et al. 2019; SIM, Denoodt
et al. 2025). With a single module (CPC) the same loss trains the whole network end to end.
The InfoNCE predictors belong to the model, not the encoder: exported encoders drop them.

Batches are ``{"wave": (B, T)}`` dicts or bare ``(B, T)`` tensors. Logged scalars: ``nce/m``,
``kl/m`` (unweighted), ``loss/m`` and, in validation, ``accuracy/m`` (InfoNCE accuracy).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from speechrep.infomax.config import InfoMaxConfig
from speechrep.infomax.encoder import InfoMaxEncoder
from speechrep.infomax.losses import InfoNCE, gaussian_kl


def batch_waves(batch: Tensor | Mapping[str, Tensor]) -> Tensor:
    """The ``(B, T)`` audio of a batch given as a tensor or a dict with key ``"wave"``."""
    wave = batch["wave"] if isinstance(batch, Mapping) else batch
    if not isinstance(wave, Tensor):
        raise TypeError(f"a batch must hold a tensor of audio under 'wave', got {type(wave).__name__}")
    return wave


class GreedyInfoMax(nn.Module):
    """Encoder + per-module InfoNCE heads, following the Trainer protocol (``training_step``)."""

    def __init__(self, config: InfoMaxConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = InfoMaxEncoder(config)
        conv_dims = config.conv_module_dims()
        context_dims = list(conv_dims)
        target_dims = list(conv_dims)
        if config.recurrent_dim is not None:
            if config.recurrent_joined:
                context_dims[-1] = config.recurrent_dim
            else:
                context_dims.append(config.recurrent_dim)
                target_dims.append(conv_dims[-1])
        self.losses = nn.ModuleList(
            InfoNCE(c, t, k, config.num_negatives, config.subsample_window)
            for c, t, k in zip(context_dims, target_dims, config.steps_per_module())
        )

    def module_losses(self, wave: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The summed loss and the per-module scalars of one batch."""
        out = self.encoder(wave)
        total = wave.new_zeros(())
        logs: dict[str, Tensor] = {}
        for m, (module_out, objective) in enumerate(zip(out.modules, self.losses)):
            nce = objective(module_out.context, module_out.target)
            loss = nce.loss
            logs[f"nce/{m}"] = nce.loss.detach()
            logs[f"accuracy/{m}"] = nce.accuracy
            if module_out.logvar is not None:
                kl = gaussian_kl(module_out.mu, module_out.logvar, self.config.kl_reduction)
                loss = loss + self.config.kl_weight * kl
                logs[f"kl/{m}"] = kl.detach()
            logs[f"loss/{m}"] = loss.detach()
            total = total + loss
        return total, logs

    def training_step(self, batch: Tensor | Mapping[str, Tensor]) -> dict[str, Tensor]:
        loss, logs = self.module_losses(batch_waves(batch))
        return {"loss": loss, **{k: v for k, v in logs.items() if not k.startswith("accuracy/")}}

    @torch.no_grad()
    def validation_step(self, batch: Tensor | Mapping[str, Tensor]) -> dict[str, Tensor]:
        loss, logs = self.module_losses(batch_waves(batch))
        return {"loss": loss.detach(), **logs}
