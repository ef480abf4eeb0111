"""Checkpoint folders: safetensors weights, the full training state, and the resolved config.

A checkpoint is a folder ``<root>/<name>/`` holding

- ``model.safetensors``: the model's ``state_dict`` (parameters and persistent buffers; tied
  weights stored once), loadable with :func:`load_model_weights`;
- ``state.pt``: everything else a resumption needs (optimiser, scheduler, step/epoch/position,
  RNG states, early-stopping state), only tensors and plain python, read with ``weights_only=True``;
- ``config.yaml``: the trainer config and, when given, the resolved config of the whole run.

Writes are atomic: the folder is written as ``.<name>.tmp`` (files fsynced), then swapped in by
renames. A crash between the two renames leaves the previous checkpoint as ``.<name>.old``, which
:func:`recover_checkpoint` puts back, so a reader always finds a complete checkpoint or none.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_model, save_model
from torch import nn

WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "state.pt"
CONFIG_FILE = "config.yaml"


def save_checkpoint(
    directory: str | os.PathLike, model: nn.Module, state: Mapping[str, Any], config: Mapping[str, Any]
) -> Path:
    """Write ``model``'s weights, ``state`` and ``config`` as checkpoint folder ``directory``, atomically."""
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)  # left by a crash during an earlier write
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / WEIGHTS_FILE))
    torch.save(dict(state), tmp / STATE_FILE)
    (tmp / CONFIG_FILE).write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    for path in (tmp / WEIGHTS_FILE, tmp / STATE_FILE, tmp / CONFIG_FILE, tmp):
        _fsync(path)
    _swap_in(tmp, directory)
    return directory


def recover_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The complete checkpoint at ``directory``, after undoing a swap a crash interrupted; None if none."""
    directory = Path(directory)
    old = directory.with_name(f".{directory.name}.old")
    if not directory.exists() and old.exists():
        os.replace(old, directory)
    return directory if (directory / STATE_FILE).is_file() else None


def load_training_state(directory: str | os.PathLike) -> dict[str, Any]:
    """The ``state.pt`` of a checkpoint folder, read safely (tensors and plain python only) onto the CPU."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: not a checkpoint folder written by Trainer.fit")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_checkpoint_config(directory: str | os.PathLike) -> dict[str, Any]:
    """The ``config.yaml`` saved with a checkpoint."""
    return yaml.safe_load((Path(directory) / CONFIG_FILE).read_text(encoding="utf-8"))


def load_model_weights(model: nn.Module, checkpoint: str | os.PathLike) -> nn.Module:
    """Load the safetensors weights of a checkpoint folder (or a ``.safetensors`` file) into ``model``.

    Loading is strict: a missing or unexpected tensor raises, since a model that silently keeps
    part of its random initialisation gives meaningless evaluations. Returns ``model``.
    """
    path = Path(checkpoint)
    if path.is_dir():
        path = path / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no weights at {path}: pass a checkpoint folder written by Trainer.fit "
            f"(<out_dir>/checkpoints/best or last) or a .safetensors file"
        )
    load_model(model, str(path), strict=True)
    return model


def copy_checkpoint(source: str | os.PathLike, directory: str | os.PathLike) -> Path:
    """Copy a checkpoint folder atomically (hard links where the file system allows; files never change)."""
    source, directory = Path(source), Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        shutil.copytree(source, tmp, copy_function=os.link)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
    _swap_in(tmp, directory)
    return directory


def prune_checkpoints(root: str | os.PathLike, prefix: str, keep: int) -> None:
    """Delete all but the ``keep`` newest ``<root>/<prefix>*`` folders (names sort by step)."""
    folders = sorted(p for p in Path(root).glob(f"{prefix}*") if p.is_dir())
    for folder in folders[: max(len(folders) - keep, 0)]:
        shutil.rmtree(folder)


def _swap_in(tmp: Path, directory: Path) -> None:
    old = directory.with_name(f".{directory.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if directory.exists():
        os.replace(directory, old)
    os.replace(tmp, directory)
    _fsync(directory.parent)
    shutil.rmtree(old, ignore_errors=True)


def _fsync(path: Path) -> None:
    """Flush a file's or folder's content (folder: its entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
