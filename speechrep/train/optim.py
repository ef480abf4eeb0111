"""The optimiser and its learning-rate schedule, a pure function of the optimiser step.

The step that an optimiser update is about to take (0-based) fully determines its learning rate,
so a resumed run needs nothing but the step counter to continue the schedule exactly.
Warm-up is linear: update ``s < warmup`` uses ``(s + 1) / warmup`` of the peak, so the first update
already moves the weights and update ``warmup - 1`` reaches the peak. After warm-up, ``linear`` and
``cosine`` decay from the peak to ``min_lr_ratio`` of it over the remaining steps; ``constant`` stays.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from speechrep.train.config import TrainerConfig


def lr_factor(
    step: int, schedule: str, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0
) -> float:
    """Multiplier of the peak learning rate for the update at 0-based ``step``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    if schedule == "linear":
        return 1.0 - (1.0 - min_lr_ratio) * progress
    if schedule == "cosine":
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {schedule!r}; expected constant, linear or cosine")


def build_optimizer(model: nn.Module, cfg: TrainerConfig) -> torch.optim.Optimizer:
    """The configured optimiser over ``model.parameter_groups()`` if defined, else all trainable parameters.

    A group may set its own ``lr``/``weight_decay`` (per-module learning rates); the rest come from
    ``cfg``. The schedule scales every group's own peak learning rate by the same factor.
    """
    if hasattr(model, "parameter_groups"):
        groups = [dict(group) for group in model.parameter_groups()]
        for group in groups:
            group["params"] = [p for p in group["params"] if p.requires_grad]
    else:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    groups = [group for group in groups if group["params"]]
    if not groups:
        raise ValueError(f"{type(model).__name__} has no trainable parameters to optimise")
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainerConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` following :func:`lr_factor`; step it once after every optimiser update."""
    factor = functools.partial(
        lr_factor,
        schedule=cfg.schedule,
        warmup_steps=cfg.warmup_steps,
        total_steps=total_steps,
        min_lr_ratio=cfg.min_lr_ratio,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def set_lr_for_step(scheduler: torch.optim.lr_scheduler.LambdaLR, step: int) -> None:
    """Put the learning rate of update ``step`` into every group (after restoring a scheduler).

    A ``partial`` carries no state into the scheduler's ``state_dict``, so a resumed run follows the
    schedule of its current config, e.g. a cosine stretched to a raised ``max_steps``.
    """
    for group, base_lr, factor in zip(
        scheduler.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True
    ):
        group["lr"] = base_lr * factor(step)
