"""Capture, restore, derive and isolate the random-number state of one process.

Checkpoints store what :func:`capture_rng_state` returns so that a resumed run draws exactly the
numbers an uninterrupted one would. The state holds only tensors and plain python values, so it
loads with ``torch.load(..., weights_only=True)``. :func:`derived_seed` and :func:`isolated_rng`
let a piece of work (one dataset item, one validation pass) draw from generators seeded by its own
keys, without disturbing, or being disturbed by, the stream that training draws from.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def derived_seed(*keys: int) -> int:
    """A well-mixed 63-bit seed from integer keys (e.g. seed, epoch, item index); ~2 µs, so per item."""
    digest = hashlib.blake2b(repr(tuple(int(key) for key in keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def capture_rng_state(device: torch.device | None = None) -> dict[str, Any]:
    """Python, numpy and torch CPU generator states, plus the CUDA one of ``device`` when it is a GPU."""
    numpy_state = np.random.get_state(legacy=False)  # noqa: NPY002 - the legacy global generator is what we save
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(state: dict[str, Any], device: torch.device | None = None) -> None:
    """Inverse of :func:`capture_rng_state`."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def seed_process(seed: int, device: torch.device | None = None) -> None:
    """Seed python, numpy, the torch CPU generator and (for a GPU ``device``) that GPU's generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.default_generator.manual_seed(seed)
    if device is not None and device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)


@contextlib.contextmanager
def isolated_rng(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Run a block with generators seeded by ``seed``; the caller's states are restored afterwards."""
    saved = capture_rng_state(device)
    seed_process(seed, device)
    try:
        yield
    finally:
        restore_rng_state(saved, device)
