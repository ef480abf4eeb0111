"""Every switch of the training loop in one dataclass, validated once when it is built.

The fields are plain scalars so that Hydra can instantiate it from ``configs/trainer/*.yaml``
(``_target_: speechrep.train.TrainerConfig``) and so that it round-trips through YAML/JSON next to
the checkpoints it produced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "linear", "cosine")
MIXED_PRECISION = ("no", "fp16", "bf16")
MONITOR_MODES = ("min", "max")
LOGGERS = ("jsonl", "wandb")

# Fields whose change between a checkpoint and its resumption alters the trajectory of the run
# (batch order, step size): a resumed run with different values is no longer the same run.
TRAJECTORY_FIELDS = (
    "batch_size",
    "lr",
    "weight_decay",
    "optimizer",
    "betas",
    "momentum",
    "schedule",
    "warmup_steps",
    "min_lr_ratio",
    "grad_clip",
    "mixed_precision",
    "shuffle",
    "drop_last",
    "seed",
)


@dataclasses.dataclass
class TrainerConfig:
    """Settings of :class:`speechrep.train.Trainer`.

    Batch size is **global**: ``batch_size`` examples make one optimiser step whatever the number
    of processes; each of N processes (``accelerate launch --num_processes N``) gets
    ``batch_size / N`` of them, so ``batch_size`` must be divisible by N. The same config therefore
    gives the same optimisation (same batches, same gradients up to float rounding) on one CPU,
    one GPU or several.

    Attributes:
        out_dir: run folder; receives ``metrics.jsonl`` and ``checkpoints/{last,best,step_*}``.
            A run whose ``checkpoints/last`` exists is resumed from it. With several machines it
            must be on a file system they all share (the main process writes, all of them read).
        max_steps: optimiser steps to run in total; ``None`` to stop on ``max_epochs`` only.
        max_epochs: passes over the training set; ``None`` to stop on ``max_steps`` only. When both
            are set, training stops at whichever comes first.
        batch_size: global training batch per optimiser step (see above).
        val_batch_size: global validation batch; ``None`` uses ``batch_size``.
        lr: peak learning rate (parameter groups may set their own).
        weight_decay: L2 penalty for ``adam``/``sgd``, decoupled decay for ``adamw``.
        optimizer: ``adam`` | ``adamw`` | ``sgd``.
        betas: Adam(W) moment coefficients.
        momentum: SGD momentum.
        schedule: ``constant`` | ``linear`` | ``cosine``, each after ``warmup_steps`` of linear warm-up.
        warmup_steps: steps over which the learning rate rises linearly to its peak.
        min_lr_ratio: learning rate at the end of a linear/cosine decay, as a fraction of the peak.
        grad_clip: maximum global L2 norm of the gradients; ``None`` for no clipping.
        mixed_precision: ``no`` | ``fp16`` | ``bf16`` (autocast; weights stay float32). One setting
            per process: accelerate refuses to change it once set.
        val_every: validate every this many steps; ``None`` validates at the end of every epoch.
            Training always ends with a validation when a validation set is given.
        log_every: write averaged training metrics every this many steps (and at the last step).
        checkpoint_every: write ``checkpoints/last`` every this many steps; ``None`` writes it only
            at the end. ``best`` is written whenever the monitored metric improves.
        keep_checkpoints: also keep this many most recent ``checkpoints/step_<step, 8 digits>`` copies of
            periodic checkpoints (0: only ``last`` and ``best``).
        early_stopping_patience: stop after this many validations without improvement of
            ``monitor``; ``None`` never stops early.
        early_stopping_min_delta: smallest change of ``monitor`` that counts as an improvement.
        monitor: validation metric that selects ``best`` and drives early stopping (``val/<name>``).
        monitor_mode: ``min`` or ``max``: which direction of ``monitor`` is better.
        num_workers: data-loader worker processes (results do not depend on it).
        shuffle: reshuffle the training set every epoch (order fixed by ``seed`` and the epoch).
        drop_last: drop the last incomplete training batch of each epoch.
        seed: seeds python, numpy, torch and the loader; per-item randomness of datasets is derived
            from (seed, epoch, index) so that it does not depend on workers, processes or resumption.
        logger: ``jsonl`` (``metrics.jsonl`` only) or ``wandb`` (``metrics.jsonl`` and wandb).
        wandb_project: wandb project name.
        wandb_mode: ``offline`` (default), ``online`` or ``disabled``; the ``WANDB_MODE`` environment
            variable, when set, takes precedence.
        run_name: wandb run name; ``None`` lets wandb choose.
        find_unused_parameters: tell DDP that some parameters may get no gradient in a step.
        cpu: train on the CPU even when an accelerator is present.
        deterministic: ask torch for deterministic kernels (needed for bit-exact resumption on GPU).
        progress: show a progress bar; ``None`` shows one when stderr is a terminal.
    """

    out_dir: str
    max_steps: int | None = 1000
    max_epochs: int | None = None
    batch_size: int = 8
    val_batch_size: int | None = None
    lr: float = 2e-4
    weight_decay: float = 0.0
    optimizer: str = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    grad_clip: float | None = None
    mixed_precision: str = "no"
    val_every: int | None = 200
    log_every: int = 10
    checkpoint_every: int | None = 200
    keep_checkpoints: int = 0
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 0.0
    monitor: str = "val/loss"
    monitor_mode: str = "min"
    num_workers: int = 0
    shuffle: bool = True
    drop_last: bool = True
    seed: int = 0
    logger: str = "jsonl"
    wandb_project: str = "speechrep"
    wandb_mode: str = "offline"
    run_name: str | None = None
    find_unused_parameters: bool = False
    cpu: bool = False
    deterministic: bool = False
    progress: bool | None = None

    def __post_init__(self) -> None:
        self.out_dir = str(self.out_dir)
        self.betas = _pair(self.betas, "betas")
        _choice(self.optimizer, OPTIMIZERS, "optimizer")
        _choice(self.schedule, SCHEDULES, "schedule")
        _choice(self.mixed_precision, MIXED_PRECISION, "mixed_precision")
        _choice(self.monitor_mode, MONITOR_MODES, "monitor_mode")
        _choice(self.logger, LOGGERS, "logger")
        if self.max_steps is None and self.max_epochs is None:
            raise ValueError("TrainerConfig: set max_steps or max_epochs (or both); both are None")
        for name in ("max_steps", "max_epochs", "batch_size", "val_batch_size", "log_every"):
            _at_least(getattr(self, name), 1, name)
        for name in ("val_every", "checkpoint_every", "early_stopping_patience"):
            _at_least(getattr(self, name), 1, name)
        for name in ("warmup_steps", "keep_checkpoints", "num_workers"):
            _at_least(getattr(self, name), 0, name)
        if self.lr <= 0:
            raise ValueError(f"TrainerConfig.lr must be positive, got {self.lr}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"TrainerConfig.grad_clip must be positive or None, got {self.grad_clip}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"TrainerConfig.min_lr_ratio must lie in [0, 1], got {self.min_lr_ratio}")
        if not self.monitor.startswith("val/"):
            raise ValueError(
                f"TrainerConfig.monitor must name a validation metric 'val/<name>', got {self.monitor!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-python view (tuples as lists) for YAML/JSON and for trackers."""
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data


def _choice(value: str, allowed: Sequence[str], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"TrainerConfig.{name} must be one of {list(allowed)}, got {value!r}")


def _at_least(value: int | None, low: int, name: str) -> None:
    if value is not None and (not isinstance(value, int) or value < low):
        raise ValueError(f"TrainerConfig.{name} must be an integer >= {low} (or None), got {value!r}")


def _pair(value: Sequence[float], name: str) -> tuple[float, float]:
    values = tuple(float(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"TrainerConfig.{name} must hold two numbers, got {list(value)}")
    return values  # type: ignore[return-value]
