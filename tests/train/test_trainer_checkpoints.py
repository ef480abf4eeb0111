"""Checkpoints: round trip, strict loading, atomic swaps, best/last/keep-k selection, early stopping."""

from __future__ import annotations

import json
import os

import pytest
import torch
import yaml
from torch import nn

from speechrep.train import Trainer, load_model_weights
from speechrep.train.checkpoint import (
    load_training_state,
    recover_checkpoint,
    save_checkpoint,
)
from speechrep.train.monitor import Monitor
from tests.train.toys import ToyData, ToyModel, toy_config, train_toy


class Tied(nn.Module):
    """Tied weights and a batch-norm buffer: what a naive state-dict save gets wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 4)
        self.out = nn.Linear(4, 5, bias=False)
        self.out.weight = self.embed.weight
        self.norm = nn.BatchNorm1d(4)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Tied()
    model.norm.running_mean.normal_()
    state = {"step": 3, "optimizer": {"state": {0: {"exp_avg": torch.ones(2)}}}, "python": (3, (1, 2), None)}
    path = save_checkpoint(tmp_path / "last", model, state, {"trainer": {"lr": 0.1}, "run": None})
    assert sorted(p.name for p in path.iterdir()) == ["config.yaml", "model.safetensors", "state.pt"]

    loaded = load_model_weights(Tied(), path)
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    assert loaded.out.weight is loaded.embed.weight  # still tied
    restored = load_training_state(path)  # weights_only=True inside
    assert restored["step"] == 3 and torch.equal(restored["optimizer"]["state"][0]["exp_avg"], torch.ones(2))
    assert yaml.safe_load((path / "config.yaml").read_text())["trainer"] == {"lr": 0.1}


def test_loading_weights_is_strict_and_names_the_fix(tmp_path):
    save_checkpoint(tmp_path / "ckpt", Tied(), {}, {})
    wrong = Tied()
    wrong.extra = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="extra"):
        load_model_weights(wrong, tmp_path / "ckpt")
    with pytest.raises(FileNotFoundError, match="checkpoints/best or last"):
        load_model_weights(Tied(), tmp_path / "nothing")


def test_swap_interrupted_between_renames_is_recovered(tmp_path):
    first = Tied()
    save_checkpoint(tmp_path / "last", first, {"step": 1}, {})
    # a crash after 'last' was renamed away and before the new one was renamed in
    os.replace(tmp_path / "last", tmp_path / ".last.old")
    (tmp_path / ".last.tmp").mkdir()  # and a half-written new one
    assert recover_checkpoint(tmp_path / "last") == tmp_path / "last"
    assert load_training_state(tmp_path / "last")["step"] == 1
    save_checkpoint(tmp_path / "last", Tied(), {"step": 2}, {})
    assert load_training_state(tmp_path / "last")["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert recover_checkpoint(tmp_path / "missing") is None


class Valley(ToyModel):
    """Validation loss (step - 8)²: best at step 8 whatever the weights do."""

    def validation_step(self, batch):
        super().validation_step(batch)
        return {"loss": torch.tensor(float((self.calls - 8) ** 2))}


def test_best_and_last_and_kept_checkpoints(tmp_path):
    settings = {"schedule": "constant", "warmup_steps": 0, "val_every": 2, "checkpoint_every": 3}
    config = toy_config(tmp_path / "a", keep_checkpoints=2, **settings)
    summary = Trainer(config, Valley(seed=3), ToyData(44, seed=1), ToyData(11, seed=2)).fit()
    assert (summary["best_step"], summary["best_metric"], summary["steps"]) == (8, 0.0, 17)
    checkpoints = tmp_path / "a" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best", "last", "step_00000012", "step_00000015"]
    assert load_training_state(checkpoints / "best")["step"] == 8
    assert load_training_state(checkpoints / "last")["step"] == 17
    assert load_training_state(checkpoints / "step_00000015")["step"] == 15

    # the best weights are those of the same run stopped at step 8 (a constant schedule does not
    # depend on the run's length)
    shorter, _ = train_toy(tmp_path / "b", max_steps=8, **settings)
    best = load_model_weights(ToyModel(seed=0), checkpoints / "best")
    for name, value in shorter.state_dict().items():
        assert torch.equal(best.state_dict()[name], value), name
    last = load_model_weights(ToyModel(seed=0), checkpoints / "last")
    assert not torch.equal(last.net[0].weight, best.net[0].weight)


class Dip(ToyModel):
    """Validation loss |step - 6| / 1000: improves by 0.002 per validation up to step 6, then worsens."""

    def validation_step(self, batch):
        super().validation_step(batch)
        return {"loss": torch.tensor(abs(self.calls - 6) * 1e-3)}


# every 2 steps, patience 3: best at 6, then 8, 10, 12 fail to improve; with min_delta 0.005 the
# improvements of 0.002 do not count, so 4, 6 and 8 fail to improve on step 2
@pytest.mark.parametrize(("min_delta", "stop_step", "best_step"), [(0.0, 12, 6), (0.005, 8, 2)])
def test_early_stopping(tmp_path, min_delta, stop_step, best_step):
    def run() -> dict:
        config = toy_config(
            tmp_path, val_every=2, early_stopping_patience=3, early_stopping_min_delta=min_delta
        )
        return Trainer(config, Dip(seed=3), ToyData(44, seed=1), ToyData(11)).fit()

    summary = run()
    assert summary["stopped_early"] and (summary["steps"], summary["best_step"]) == (stop_step, best_step)
    state = load_training_state(tmp_path / "checkpoints" / "last")
    assert state["stopped_early"] and state["step"] == stop_step
    assert load_training_state(tmp_path / "checkpoints" / "best")["step"] == best_step
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["step"] == stop_step
    assert run()["steps"] == stop_step  # a stopped run stays stopped


def test_monitor_directions_and_nan():
    highest = Monitor("val/accuracy", mode="max", patience=2)
    assert highest.update({"val/accuracy": 0.5}, 1)
    assert not highest.update({"val/accuracy": float("nan")}, 2)
    assert highest.update({"val/accuracy": 0.6}, 3)
    assert not highest.update({"val/accuracy": 0.6}, 4)
    assert not highest.should_stop
    assert not highest.update({"val/accuracy": 0.1}, 5)
    assert highest.should_stop and (highest.best, highest.best_step) == (0.6, 3)
    with pytest.raises(KeyError, match="val/loss"):
        Monitor("val/loss").update({"val/accuracy": 1.0}, 1)
