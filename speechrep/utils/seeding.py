"""One seed for everything random: python, numpy, torch (and so data-loader workers derived from it)."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators; recorded by callers in their results."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeding the legacy global generator is the point
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
