"""Fixtures of the training-loop tests: one torch thread, and no accelerate state left behind.

accelerate keeps process-wide state (mixed precision, device) that a later ``Accelerator`` may not
change; each test here starts from and leaves a clean slate, so tests with other settings, here or
in other packages, are not affected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch
from accelerate.state import AcceleratorState

os.environ.setdefault("WANDB_MODE", "disabled")


@pytest.fixture(autouse=True)
def clean_training_process() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as the single-threaded subprocesses
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(threads)
