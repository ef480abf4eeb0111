"""Content hashes that identify inputs in cache keys: a file's bytes, a module's weights."""

from __future__ import annotations

import hashlib
import os

import torch
from torch import nn


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (checkpoint files can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def state_dict_sha256(module: nn.Module) -> str:
    """SHA-256 over every parameter and buffer of ``module``: names, dtypes, shapes and bytes.

    Entries are hashed in sorted name order, so the hash does not depend on registration order,
    and on the CPU, so it does not depend on the device.
    """
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
