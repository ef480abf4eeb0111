"""The one training loop of speechrep (CPC/GIM/SIM, VIB, DecVAE), on accelerate.

The same code runs on a CPU, one GPU, several GPUs and several machines (``accelerate launch``).
A model plugs in through two methods:

- ``training_step(batch) -> dict[str, Tensor]`` with a scalar ``"loss"``; every other scalar is
  logged as ``train/<name>`` (averaged over the steps since the last log line and over processes).
  It must return the same names at every step.
- optionally ``validation_step(batch) -> dict[str, Tensor]`` of scalars, averaged over the
  validation set weighted by batch size (exactly, across processes) and logged as ``val/<name>``.
  It runs in eval mode under ``torch.no_grad()``, with generators seeded by (seed, step) so that
  validation neither depends on nor disturbs the training stream.

Optionally ``parameter_groups()`` gives the optimiser's parameter groups (per-module learning rates).
Models that keep a frozen part in eval mode do so by overriding ``train()``; the loop calls
``model.train()`` once and, after each validation, restores every submodule's own mode.

Resumption is exact: a run killed at any point and restarted with the same config reaches the same
final weights (on GPU, with ``deterministic=True``) and the same ``metrics.jsonl``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import (
    DataLoaderConfiguration,
    DistributedDataParallelKwargs,
    find_batch_size,
    gather_object,
)
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from speechrep.train.checkpoint import (
    copy_checkpoint,
    load_checkpoint_config,
    load_model_weights,
    load_training_state,
    prune_checkpoints,
    recover_checkpoint,
    save_checkpoint,
)
from speechrep.train.config import TRAJECTORY_FIELDS, TrainerConfig
from speechrep.train.data import EpochSampler, SeededItems, make_loader, steps_per_epoch
from speechrep.train.metrics_log import MetricLogger, start_wandb
from speechrep.train.monitor import Monitor
from speechrep.train.optim import build_optimizer, build_scheduler, set_lr_for_step
from speechrep.train.rng import capture_rng_state, derived_seed, isolated_rng, restore_rng_state
from speechrep.utils.processes import refuse_unjoined_processes
from speechrep.utils.progress import show_progress
from speechrep.utils.provenance import environment_versions
from speechrep.utils.seeding import seed_everything

log = logging.getLogger(__name__)

STATE_FORMAT = 1
_VALIDATION_STREAM = 1  # key that separates validation seeds from item seeds


class _TrainingStep(nn.Module):
    """Makes ``model.training_step`` the forward pass, so that DDP's gradient synchronisation and
    accelerate's autocast apply to it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.model.training_step(batch)


class Trainer:
    """Trains ``model`` on ``train_dataset`` as ``cfg`` says; see the module docstring for the model API.

    Args:
        cfg: loop settings (:class:`TrainerConfig`); ``cfg.batch_size`` is the global batch.
        model: the ``nn.Module`` to train (weights are updated in place).
        train_dataset: map-style dataset of training items.
        val_dataset: map-style dataset for validation, or None for none.
        collate_fn: turns a list of items into a batch (default: torch's default collation).
        run_config: resolved config of the whole run (e.g. the Hydra config of the entry script),
            saved with every checkpoint next to the trainer config.
    """

    def __init__(
        self,
        cfg: TrainerConfig,
        model: nn.Module,
        train_dataset: Dataset,
        val_dataset: Dataset | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        run_config: Mapping[str, Any] | DictConfig | None = None,
    ) -> None:
        if not callable(getattr(model, "training_step", None)):
            raise TypeError(f"{type(model).__name__} needs a training_step(batch) -> dict with a 'loss'")
        if val_dataset is not None and not callable(getattr(model, "validation_step", None)):
            raise TypeError(f"a validation set was given but {type(model).__name__} has no validation_step")
        if val_dataset is not None and len(val_dataset) == 0:
            raise ValueError("the validation set is empty; pass val_dataset=None to train without validation")
        if cfg.early_stopping_patience is not None and val_dataset is None:
            raise ValueError("early_stopping_patience needs a validation set (val_dataset) to monitor")
        self.cfg = cfg
        self.model = model
        self.train_dataset = train_dataset
        self.val_dataset = val_dataset
        self.collate_fn = collate_fn
        self.run_config = _plain(run_config)
        self.out_dir = Path(cfg.out_dir)
        self.checkpoint_dir = self.out_dir / "checkpoints"
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        self.accelerator = _make_accelerator(cfg)
        processes = self.accelerator.num_processes
        refuse_unjoined_processes(
            processes,
            "they would all write the same out_dir",
            "Without GPUs, set TrainerConfig.cpu=true (accelerate then joins the CPU processes with gloo).",
        )
        val_batch = cfg.val_batch_size or cfg.batch_size
        for name, size in (("batch_size", cfg.batch_size), ("val_batch_size", val_batch)):
            if size % processes:
                raise ValueError(
                    f"TrainerConfig.{name}={size} is the global batch and must be divisible by the "
                    f"{processes} processes"
                )
        self.steps_per_epoch = steps_per_epoch(len(train_dataset), cfg.batch_size, cfg.drop_last)
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the training set has {len(train_dataset)} items, fewer than batch_size={cfg.batch_size} "
                "with drop_last=True: no batch to train on"
            )
        limits = [cfg.max_steps] if cfg.max_steps is not None else []
        if cfg.max_epochs is not None:
            limits.append(cfg.max_epochs * self.steps_per_epoch)
        self.total_steps = min(limits)
        self.metrics = MetricLogger(self.out_dir / "metrics.jsonl", self.accelerator)
        self.monitor = Monitor(
            cfg.monitor, cfg.monitor_mode, cfg.early_stopping_min_delta, cfg.early_stopping_patience
        )
        self.step = 0
        self.epoch = 0
        self.position = 0
        self.stopped_early = False
        self._sums: dict[str, torch.Tensor] = {}  # training outputs summed since the last log line
        self._summed_steps = 0

    # ------------------------------------------------------------------ public

    def fit(self) -> dict[str, Any]:
        """Train to ``total_steps`` or an early stop, resuming from ``checkpoints/last`` when present.

        Returns a summary: steps done, completed epochs, whether it stopped early, the best value of
        the monitored metric and its step, and the paths of the checkpoints and the metrics file.
        """
        cfg, acc = self.cfg, self.accelerator
        resume_from = self._find_resumable()
        if resume_from is None:
            seed_everything(cfg.seed + acc.process_index)
        self.model.train()
        optimizer = build_optimizer(self.model, cfg)
        scheduler = build_scheduler(optimizer, cfg, self.total_steps)
        train_items = SeededItems(self.train_dataset, cfg.seed)
        sampler = EpochSampler(len(train_items), cfg.seed, cfg.shuffle)
        pin = acc.device.type == "cuda"
        loader = make_loader(
            train_items,
            sampler,
            cfg.batch_size,
            collate_fn=self.collate_fn,
            num_workers=cfg.num_workers,
            drop_last=cfg.drop_last,
            pin_memory=pin,
        )
        acc.even_batches = True  # every process must take part in every training step
        step_module, optimizer, loader = acc.prepare(_TrainingStep(self.model), optimizer, loader)
        self._val_loader = self._prepare_val_loader(pin)
        if resume_from is not None:
            self._restore(resume_from, optimizer, scheduler)
        self.metrics.truncate_after(self.step)
        if cfg.logger == "wandb":
            start_wandb(acc, self.out_dir, cfg.wandb_project, cfg.wandb_mode, cfg.run_name, self._config())
        acc.wait_for_everyone()

        show = acc.is_main_process and show_progress(cfg.progress)
        bar = tqdm(total=self.total_steps, initial=self.step, desc="train", unit="step", disable=not show)
        done = self._finished()
        while not done:
            epoch = self.epoch
            sampler.start = self.position * cfg.batch_size
            train_items.epoch = epoch
            loader.set_epoch(epoch)
            for batch in loader:
                lrs = [group["lr"] for group in optimizer.param_groups]
                outputs = _check_outputs(step_module(batch), "training_step", need_loss=True)
                acc.backward(outputs["loss"])
                if cfg.grad_clip is not None:
                    grad_norm = acc.clip_grad_norm_(step_module.parameters(), cfg.grad_clip)
                    outputs = {**outputs, "grad_norm": grad_norm}
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                self._accumulate(outputs)
                self.step += 1
                self.position += 1
                epoch_end = self.position == self.steps_per_epoch
                if epoch_end:
                    self.epoch, self.position = epoch + 1, 0
                bar.update(1)
                last = self.step >= self.total_steps
                if self.step % cfg.log_every == 0 or last:
                    metrics = self._train_metrics(lrs, optimizer)
                    self.metrics.log(self.step, epoch, metrics)
                    bar.set_postfix(loss=f"{metrics['train/loss']:.4g}")
                done = self._after_step(epoch, epoch_end, last, optimizer, scheduler)
                if done:
                    break
            if not done and self.position != 0:
                raise RuntimeError(
                    f"the training loader ended after {self.position} of {self.steps_per_epoch} batches; "
                    "did the dataset's length change during training?"
                )
        bar.close()
        acc.wait_for_everyone()
        for tracker in acc.trackers:  # not end_training(): it would end the process group, and
            tracker.finish()  # a script may train again (another stage) in the same processes
        return self._summary()

    # ------------------------------------------------------------------ steps

    def _after_step(
        self,
        epoch: int,
        epoch_end: bool,
        last: bool,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> bool:
        """Validate, keep the best, stop early and checkpoint as due; True when training is over."""
        cfg, step = self.cfg, self.step
        if self._val_loader is not None:
            due = (step % cfg.val_every == 0) if cfg.val_every is not None else epoch_end
            if due or last:
                metrics = self._validate()
                self.metrics.log(step, epoch, metrics)
                if self.monitor.update(metrics, step):
                    self._save("best", optimizer, scheduler)
                if self.monitor.should_stop:
                    log.info(
                        "early stop at step %d: %s has not improved on %.6g (step %s) for %d validations",
                        step,
                        cfg.monitor,
                        self.monitor.best,
                        self.monitor.best_step,
                        self.monitor.bad_validations,
                    )
                    self.stopped_early = last = True
        periodic = cfg.checkpoint_every is not None and step % cfg.checkpoint_every == 0
        if periodic or last:
            self._save("last", optimizer, scheduler)
            if periodic and cfg.keep_checkpoints:
                if self.accelerator.is_main_process:
                    copy_checkpoint(self.checkpoint_dir / "last", self.checkpoint_dir / f"step_{step:08d}")
                    prune_checkpoints(self.checkpoint_dir, "step_", cfg.keep_checkpoints)
                self.accelerator.wait_for_everyone()
        return last

    def _validate(self) -> dict[str, float]:
        """Metrics of ``validation_step`` over the whole validation set, as ``val/<name>``.

        Eval mode, no gradients, autocast as in training, generators seeded by (seed, step). Each
        process sums ``value × batch size`` over its share; the sums are combined exactly.
        """
        acc, model = self.accelerator, self.model
        modes = {module: module.training for module in model.modules()}
        sums: dict[str, torch.Tensor] = {}
        count = 0
        model.eval()
        try:
            with (
                torch.no_grad(),
                isolated_rng(derived_seed(self.cfg.seed, _VALIDATION_STREAM, self.step), acc.device),
                acc.autocast(),
            ):
                for batch in self._val_loader:
                    size = find_batch_size(batch)
                    outputs = _check_outputs(model.validation_step(batch), "validation_step", need_loss=False)
                    for name, value in outputs.items():
                        value = value.detach().float().reshape(()) * size
                        sums[name] = sums[name] + value if name in sums else value
                    count += size
        finally:
            for module, mode in modes.items():
                module.train(mode)
        shares = gather_object([({name: float(value) for name, value in sums.items()}, count)])
        total = sum(share_count for _, share_count in shares)
        names = sorted({name for share, _ in shares for name in share})
        return {f"val/{name}": sum(share.get(name, 0.0) for share, _ in shares) / total for name in names}

    def _accumulate(self, outputs: dict[str, torch.Tensor]) -> None:
        """Add one step's outputs to the sums averaged at the next log line (no device sync)."""
        for name, value in outputs.items():
            value = value.detach().float().reshape(())
            self._sums[name] = self._sums[name] + value if name in self._sums else value
        self._summed_steps += 1

    def _train_metrics(self, lrs: list[float], optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """Means of the outputs since the last log line, over steps and processes, plus learning rates."""
        names = sorted(self._sums)
        sums = torch.stack([self._sums[name] for name in names])
        means = self.accelerator.reduce(sums / self._summed_steps, "mean")
        self._sums, self._summed_steps = {}, 0
        metrics = {f"train/{name}": value for name, value in zip(names, means.tolist())}
        if not math.isfinite(metrics["train/loss"]):
            raise FloatingPointError(
                f"training loss is {metrics['train/loss']} at step {self.step}; lower lr, set grad_clip, "
                "or use bf16 instead of fp16"
            )
        if len(lrs) == 1:
            metrics["train/lr"] = lrs[0]
        else:
            for index, (group, lr) in enumerate(zip(optimizer.param_groups, lrs)):
                metrics[f"train/lr.{group.get('name', index)}"] = lr
        return metrics

    # ------------------------------------------------------------------ checkpoints

    def _state(self, optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, Any]:
        own = {
            "rng": capture_rng_state(self.accelerator.device),
            "metric_sums": {name: value.cpu() for name, value in self._sums.items()},
            "metric_steps": self._summed_steps,
        }
        scaler = self.accelerator.scaler
        return {
            "format": STATE_FORMAT,
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "stopped_early": self.stopped_early,
            "total_steps": self.total_steps,
            "num_processes": self.accelerator.num_processes,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "monitor": self.monitor.state_dict(),
            "processes": gather_object([own]),  # per process: generators, metrics not yet logged
        }

    def _save(self, name: str, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        state = self._state(optimizer, scheduler)  # every process contributes its RNG state
        if self.accelerator.is_main_process:
            save_checkpoint(self.checkpoint_dir / name, self.model, state, self._config())
        self.accelerator.wait_for_everyone()

    def _find_resumable(self) -> Path | None:
        if self.accelerator.is_main_process:
            recover_checkpoint(self.checkpoint_dir / "last")
        self.accelerator.wait_for_everyone()
        last = self.checkpoint_dir / "last"
        return last if (last / "state.pt").is_file() else None

    def _restore(self, directory: Path, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        saved = load_checkpoint_config(directory)["trainer"]
        current = self.cfg.to_dict()
        changed = [
            f"{k}: {saved.get(k)!r} -> {current[k]!r}"
            for k in TRAJECTORY_FIELDS
            if saved.get(k) != current[k]
        ]
        if changed:
            raise ValueError(
                f"{directory} was written with other settings ({'; '.join(changed)}); resuming would not "
                "continue the same run. Restore them, or train into a new out_dir."
            )
        state = load_training_state(directory)
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"{directory}/state.pt has format {state.get('format')}, expected {STATE_FORMAT}"
            )
        load_model_weights(self.model, directory)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_lr_for_step(scheduler, state["step"])
        if state["scaler"] is not None and self.accelerator.scaler is not None:
            self.accelerator.scaler.load_state_dict(state["scaler"])
        self.monitor.load_state_dict(state["monitor"])
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.stopped_early = state["stopped_early"]
        processes = state["processes"]
        if len(processes) == self.accelerator.num_processes:
            own = processes[self.accelerator.process_index]
            restore_rng_state(own["rng"], self.accelerator.device)
            device = self.accelerator.device
            self._sums = {name: value.to(device) for name, value in own["metric_sums"].items()}
            self._summed_steps = own["metric_steps"]
        else:
            log.warning(
                "%s was written by %d processes, this run has %d: model-side randomness is reseeded",
                directory,
                len(processes),
                self.accelerator.num_processes,
            )
            seed_everything(derived_seed(self.cfg.seed, self.step, self.accelerator.process_index) % 2**32)
        if state["total_steps"] != self.total_steps:
            log.info("schedule re-planned for %d steps (was %d)", self.total_steps, state["total_steps"])
        log.info(
            "resumed from %s at step %d (epoch %d, batch %d)", directory, self.step, self.epoch, self.position
        )

    # ------------------------------------------------------------------ helpers

    def _prepare_val_loader(self, pin: bool) -> Any:
        if self.val_dataset is None:
            return None
        cfg, acc = self.cfg, self.accelerator
        items = SeededItems(self.val_dataset, derived_seed(cfg.seed, _VALIDATION_STREAM))
        loader = make_loader(
            items,
            EpochSampler(len(items), cfg.seed, shuffle=False),
            cfg.val_batch_size or cfg.batch_size,
            collate_fn=self.collate_fn,
            num_workers=cfg.num_workers,
            drop_last=False,
            pin_memory=pin,
        )
        acc.even_batches = False  # no example repeated to even out the shares: exact averages
        try:
            return acc.prepare(loader)
        finally:
            acc.even_batches = True

    def _finished(self) -> bool:
        return self.stopped_early or self.step >= self.total_steps

    def _config(self) -> dict[str, Any]:
        return {"trainer": self.cfg.to_dict(), "run": self.run_config, "versions": environment_versions()}

    def _summary(self) -> dict[str, Any]:
        best = self.checkpoint_dir / "best"
        return {
            "steps": self.step,
            "epochs_completed": self.epoch,
            "stopped_early": self.stopped_early,
            "monitor": self.cfg.monitor,
            "best_metric": self.monitor.best,
            "best_step": self.monitor.best_step,
            "last_checkpoint": str(self.checkpoint_dir / "last"),
            "best_checkpoint": str(best) if best.is_dir() else None,
            "metrics_file": str(self.metrics.path),
            "out_dir": str(self.out_dir),
        }


def _make_accelerator(cfg: TrainerConfig) -> Accelerator:
    try:
        return Accelerator(
            cpu=cfg.cpu,
            mixed_precision=cfg.mixed_precision,
            log_with="wandb" if cfg.logger == "wandb" else None,
            project_dir=cfg.out_dir,
            dataloader_config=DataLoaderConfiguration(split_batches=True),
            rng_types=[],  # loader order comes from EpochSampler, not from synchronised generators
            kwargs_handlers=[
                DistributedDataParallelKwargs(find_unused_parameters=cfg.find_unused_parameters)
            ],
        )
    except ValueError as error:
        if "already been initialized" not in str(error):
            raise
        raise ValueError(
            f"mixed_precision={cfg.mixed_precision!r} (or cpu={cfg.cpu}) differs from an earlier Trainer in "
            "this process; accelerate fixes them once per process. Run the stages in separate processes "
            "or give them the same settings."
        ) from error


def _check_outputs(outputs: Any, method: str, need_loss: bool) -> dict[str, torch.Tensor]:
    if not isinstance(outputs, Mapping):
        raise TypeError(f"{method} must return a dict of scalar tensors, got {type(outputs).__name__}")
    if need_loss and "loss" not in outputs:
        raise KeyError(f"{method} must return a 'loss'; it returned {sorted(outputs)}")
    for name, value in outputs.items():
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise TypeError(f"{method} returned {name!r} that is not a scalar tensor")
    return dict(outputs)


def _plain(config: Mapping[str, Any] | DictConfig | None) -> dict[str, Any] | None:
    if config is None:
        return None
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    return dict(config)
