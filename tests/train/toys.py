"""A tiny MLP and a synthetic dataset for the training-loop tests, and a command line to train them.

The dataset draws augmentation noise from python's, numpy's and torch's global generators, and the
model uses dropout, so every random stream the loop promises to reproduce is exercised.

Command line (used by the SIGKILL and the two-process tests; needs the project on PYTHONPATH)::

    python tests/train/toys.py OUT_DIR --max-steps N [--kill-at-call K] [--grads-to FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import Dataset

from speechrep.train import Trainer, TrainerConfig


class Interrupt(Exception):
    """Raised by the model to interrupt a run part-way, like a crash."""


class ToyData(Dataset):
    """``size`` 4-D points labelled by a fixed linear 3-class rule; fresh noise on every access."""

    def __init__(self, size: int, seed: int = 0, noise: float = 0.05) -> None:
        rule = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
        self.x = torch.randn(size, 4, generator=torch.Generator().manual_seed(seed))
        self.y = (self.x @ rule).argmax(dim=1)
        self.noise = noise

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        jitter = torch.randn(4) + float(np.random.standard_normal()) + random.random()  # noqa: NPY002
        return {"x": self.x[index] + self.noise * jitter, "y": self.y[index]}


class ToyModel(nn.Module):
    """MLP classifier with dropout, following the training-loop protocol.

    It records, for every call, whether it was in training mode and whether gradients were on, and
    it can die (SIGKILL) or raise :class:`Interrupt` at a given call of ``training_step``.
    """

    def __init__(self, seed: int = 0, dropout: float = 0.2, loss_scale: float = 1.0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 3))
        self.frozen = nn.Linear(3, 3)  # kept in eval mode by train(): the loop must not flip it
        self.frozen.requires_grad_(False)
        self.loss_scale = loss_scale
        self.calls = 0
        self.kill_at_call: int | None = None
        self.raise_at_call: int | None = None
        self.seen: dict[str, list[tuple[bool, bool, bool]]] = {"train": [], "val": []}

    def train(self, mode: bool = True) -> ToyModel:
        super().train(mode)
        self.frozen.eval()
        return self

    def _loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(batch["x"]) + 0.0 * self.frozen(torch.zeros(1, 3))
        loss = nn.functional.cross_entropy(logits, batch["y"])
        accuracy = (logits.argmax(dim=1) == batch["y"]).float().mean()
        return loss, accuracy

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.calls += 1
        if self.kill_at_call == self.calls:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.raise_at_call == self.calls:
            raise Interrupt(f"interrupted at call {self.calls}")
        self.seen["train"].append((self.training, torch.is_grad_enabled(), self.frozen.training))
        loss, accuracy = self._loss(batch)
        return {"loss": self.loss_scale * loss, "accuracy": accuracy}

    def validation_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.seen["val"].append((self.training, torch.is_grad_enabled(), self.frozen.training))
        loss, accuracy = self._loss(batch)
        return {"loss": loss, "accuracy": accuracy}


def toy_config(out_dir: Path | str, **overrides: Any) -> TrainerConfig:
    """A config that exercises everything stateful: warm-up + cosine, AdamW, clipping, validation."""
    settings: dict[str, Any] = {
        "out_dir": str(out_dir),
        "max_steps": 17,
        "batch_size": 8,
        "lr": 0.05,
        "weight_decay": 0.01,
        "optimizer": "adamw",
        "schedule": "cosine",
        "warmup_steps": 3,
        "grad_clip": 1.0,
        "val_every": 4,
        "log_every": 2,
        "checkpoint_every": 3,
        "seed": 7,
        "cpu": True,
        "progress": False,
    }
    settings.update(overrides)
    return TrainerConfig(**settings)


def train_toy(
    out_dir: Path | str,
    kill_at_call: int | None = None,
    raise_at_call: int | None = None,
    train_size: int = 44,
    val_noise: float = 0.05,
    **overrides: Any,
) -> tuple[ToyModel, dict[str, Any]]:
    """Train a fresh :class:`ToyModel` (resuming when ``out_dir`` has a checkpoint)."""
    model = ToyModel(seed=3)
    model.kill_at_call = kill_at_call
    model.raise_at_call = raise_at_call
    val_set = ToyData(11, seed=2, noise=val_noise)
    trainer = Trainer(toy_config(out_dir, **overrides), model, ToyData(train_size, seed=1), val_set)
    return model, trainer.fit()


def first_step_then_resume(out_dir: Path | str, then_steps: int) -> tuple[dict[str, torch.Tensor], ToyModel]:
    """First-step gradients of a dropout-free model, then the same run resumed up to ``then_steps``.

    With plain SGD at learning rate 1 (no momentum, decay or clipping) one step turns ``w0`` into
    ``w0 - grad``, so the weight change is the gradient of the first batch, after DDP's averaging.
    """
    sgd = {"optimizer": "sgd", "lr": 1.0, "weight_decay": 0.0, "schedule": "constant", "warmup_steps": 0}
    settings = {**sgd, "grad_clip": None, "val_every": 2, "checkpoint_every": 2, "log_every": 1}
    model = ToyModel(seed=3, dropout=0.0)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    Trainer(
        toy_config(out_dir, max_steps=1, **settings), model, ToyData(44, seed=1), ToyData(11, seed=2)
    ).fit()
    grads = {name: before[name] - value for name, value in model.state_dict().items()}
    resumed = ToyModel(seed=4, dropout=0.0)  # other initial weights: the checkpoint must replace them
    config = toy_config(out_dir, max_steps=then_steps, **settings)
    Trainer(config, resumed, ToyData(44, seed=1), ToyData(11, seed=2)).fit()
    return grads, resumed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--max-steps", type=int, required=True)
    parser.add_argument("--kill-at-call", type=int, help="SIGKILL the process at this call of training_step")
    parser.add_argument(
        "--grads-to", help="run first_step_then_resume and save the first-step gradients here"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.grads_to:
        grads, _ = first_step_then_resume(args.out_dir, args.max_steps)
        if int(os.environ.get("RANK", "0")) == 0:
            save_file({name: value.contiguous() for name, value in grads.items()}, args.grads_to)
    else:
        train_toy(args.out_dir, kill_at_call=args.kill_at_call, max_steps=args.max_steps)


if __name__ == "__main__":
    main()
