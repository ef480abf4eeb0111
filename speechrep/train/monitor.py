"""The monitored validation metric: which validation was best, and when to stop early."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass
class Monitor:
    """Tracks ``name`` over validations; its state is saved in every checkpoint.

    A value improves on the best when it is better by more than ``min_delta`` in direction
    ``mode`` (NaN never improves). With ``patience`` set, :attr:`should_stop` turns true after that
    many consecutive validations without improvement.
    """

    name: str
    mode: str = "min"
    min_delta: float = 0.0
    patience: int | None = None
    best: float | None = None
    best_step: int | None = None
    bad_validations: int = 0

    def update(self, metrics: Mapping[str, float], step: int) -> bool:
        """Record one validation's metrics; True when the monitored value is a new best."""
        if self.name not in metrics:
            raise KeyError(
                f"monitor {self.name!r} is not among the validation metrics {sorted(metrics)}; "
                f"set TrainerConfig.monitor to one of them (validation_step returns its names without 'val/')"
            )
        value = float(metrics[self.name])
        if self._improves(value):
            self.best, self.best_step, self.bad_validations = value, step, 0
            return True
        self.bad_validations += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_validations >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "bad_validations": self.bad_validations}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = state["best"]
        self.best_step = state["best_step"]
        self.bad_validations = int(state["bad_validations"])

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta
