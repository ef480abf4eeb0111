"""The loop itself: modes during validation, the metrics log, schedules, clipping, parameter groups,
mixed precision, the model protocol's errors, and the Hydra config groups."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from speechrep.train import Trainer, TrainerConfig
from speechrep.train.optim import lr_factor
from tests.conftest import PROJECT_ROOT
from tests.train.toys import ToyData, ToyModel, toy_config, train_toy


def read_log(out_dir) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def test_validation_runs_in_eval_mode_without_grad_and_restores_modes(tmp_path):
    model, _ = train_toy(tmp_path, max_steps=9)
    # (module in training mode, gradients enabled, frozen part in training mode)
    assert set(model.seen["train"]) == {(True, True, False)}
    assert set(model.seen["val"]) == {(False, False, False)}
    assert len(model.seen["val"]) == 3 * 2  # validations at 4, 8, 9; 11 items in batches of 8
    assert model.training and not model.frozen.training


def test_metrics_log_lines_and_exact_validation_average(tmp_path):
    model, _ = train_toy(tmp_path, val_noise=0.0)
    lines = read_log(tmp_path)
    assert all({"step", "epoch"} <= line.keys() for line in lines)
    train = [line for line in lines if "train/loss" in line]
    val = [line for line in lines if "val/loss" in line]
    assert [line["step"] for line in train] == [2, 4, 6, 8, 10, 12, 14, 16, 17]
    assert [line["step"] for line in val] == [4, 8, 12, 16, 17]
    assert all(line["epoch"] == (line["step"] - 1) // 5 for line in lines)  # 5 steps per epoch
    assert set(train[0]) == {"step", "epoch", "train/loss", "train/accuracy", "train/grad_norm", "train/lr"}
    for line in train:  # the rate of the line's last step: warm-up 3, cosine over 17
        assert line["train/lr"] == pytest.approx(0.05 * lr_factor(line["step"] - 1, "cosine", 3, 17))

    # the last validation is the mean over all 11 items (batches of 8 and 3), weighted by size
    data = ToyData(11, seed=2, noise=0.0)
    model.eval()
    with torch.no_grad():
        expected = model.validation_step({"x": data.x, "y": data.y})
    assert val[-1]["val/loss"] == pytest.approx(float(expected["loss"]), rel=1e-6)
    assert val[-1]["val/accuracy"] == pytest.approx(float(expected["accuracy"]), rel=1e-6)


@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine"])
def test_schedule_values(schedule):
    warm = [lr_factor(step, schedule, 4, 20, min_lr_ratio=0.1) for step in range(4)]
    assert warm == [0.25, 0.5, 0.75, 1.0]  # linear warm-up reaching the peak at its last step
    after = [lr_factor(step, schedule, 4, 20, min_lr_ratio=0.1) for step in range(4, 21)]
    if schedule == "constant":
        assert after == [1.0] * 17
        return
    assert after[0] == 1.0 and after[-1] == pytest.approx(0.1)  # peak, then down to min_lr_ratio
    assert all(a > b for a, b in itertools.pairwise(after))
    middle = lr_factor(12, schedule, 4, 20, min_lr_ratio=0.1)  # half-way through the decay
    assert middle == pytest.approx(0.55)
    quarter = lr_factor(8, schedule, 4, 20, min_lr_ratio=0.1)
    expected = 1 - 0.9 * 0.25 if schedule == "linear" else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4))
    assert quarter == pytest.approx(expected)


def test_scheduler_drives_the_optimiser(tmp_path):
    train_toy(tmp_path, max_steps=8, log_every=1, schedule="linear", warmup_steps=2, min_lr_ratio=0.5)
    lrs = [line["train/lr"] for line in read_log(tmp_path) if "train/lr" in line]
    assert lrs == pytest.approx([0.05 * lr_factor(s, "linear", 2, 8, 0.5) for s in range(8)])


def sgd_step_change(tmp_path, grad_clip):
    """Norm of the weight change of one plain SGD step (lr 1) on a loss scaled by 100, and the log."""
    settings = {"optimizer": "sgd", "lr": 1.0, "weight_decay": 0.0, "schedule": "constant", "warmup_steps": 0}
    model = ToyModel(seed=3, dropout=0.0, loss_scale=100.0)
    before = torch.cat([p.detach().flatten().clone() for p in model.net.parameters()])
    config = toy_config(tmp_path, max_steps=1, grad_clip=grad_clip, **settings)
    Trainer(config, model, ToyData(44, seed=1)).fit()
    after = torch.cat([p.detach().flatten() for p in model.net.parameters()])
    return float((before - after).norm()), read_log(tmp_path)[0]


def test_gradient_clipping_bounds_the_norm(tmp_path):
    free, _ = sgd_step_change(tmp_path / "free", None)
    clipped, line = sgd_step_change(tmp_path / "clipped", 0.5)
    assert free > 5.0  # the unclipped gradient is large ...
    assert line["train/grad_norm"] == pytest.approx(free, rel=1e-5)  # ... and logged before clipping
    assert clipped == pytest.approx(0.5, rel=1e-4)  # clipped to the bound exactly


class Grouped(ToyModel):
    def parameter_groups(self):
        return [
            {"name": "first", "params": self.net[0].parameters(), "lr": 0.01},
            {"name": "rest", "params": [*self.net[3].parameters(), *self.frozen.parameters()]},
        ]


def test_parameter_groups_set_per_module_learning_rates(tmp_path):
    config = toy_config(tmp_path, max_steps=4, schedule="constant", warmup_steps=0, log_every=1)
    model = Grouped(seed=3)
    frozen = model.frozen.weight.clone()
    Trainer(config, model, ToyData(44, seed=1)).fit()
    line = read_log(tmp_path)[0]
    assert (line["train/lr.first"], line["train/lr.rest"]) == (0.01, 0.05)
    assert torch.equal(model.frozen.weight, frozen)  # frozen parameters are left out


def test_bf16_mixed_precision_trains_float32_weights(tmp_path):
    model, summary = train_toy(tmp_path, max_steps=6, mixed_precision="bf16")
    assert summary["steps"] == 6
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(math.isfinite(line.get("train/loss", 0.0)) for line in read_log(tmp_path))


def test_model_protocol_errors(tmp_path):
    class NoLoss(ToyModel):
        def training_step(self, batch):
            return {"accuracy": super().training_step(batch)["accuracy"]}

    with pytest.raises(KeyError, match="must return a 'loss'"):
        Trainer(toy_config(tmp_path), NoLoss(), ToyData(44)).fit()
    with pytest.raises(TypeError, match="training_step"):
        Trainer(toy_config(tmp_path), torch.nn.Linear(2, 2), ToyData(44))
    with pytest.raises(TypeError, match="no validation_step"):
        Trainer(toy_config(tmp_path), ToyModelWithoutValidation(), ToyData(44), ToyData(5))
    with pytest.raises(ValueError, match="fewer than batch_size"):
        Trainer(toy_config(tmp_path), ToyModel(), ToyData(5))
    with pytest.raises(ValueError, match="needs a validation set"):
        Trainer(toy_config(tmp_path, early_stopping_patience=2), ToyModel(), ToyData(44))


class ToyModelWithoutValidation(torch.nn.Module):
    def training_step(self, batch):
        return {"loss": torch.zeros(())}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_steps": None, "max_epochs": None}, "set max_steps or max_epochs"),
        ({"optimizer": "lamb"}, "optimizer must be one of"),
        ({"monitor": "loss"}, "val/<name>"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"betas": [0.9]}, "betas must hold two numbers"),
    ],
)
def test_config_validation(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainerConfig(out_dir=str(tmp_path), **overrides)


def test_max_epochs_limits_the_run(tmp_path):
    _, summary = train_toy(tmp_path, max_steps=None, max_epochs=2, val_every=None)
    assert (summary["steps"], summary["epochs_completed"]) == (10, 2)
    assert [line["step"] for line in read_log(tmp_path) if "val/loss" in line] == [5, 10]  # each epoch end


def test_wandb_logger_runs_offline_or_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    _, summary = train_toy(tmp_path, max_steps=2, logger="wandb", val_every=2)
    assert summary["steps"] == 2
    assert (tmp_path / "wandb_run_id.txt").is_file()
    assert len(read_log(tmp_path)) == 2  # the local log is written whatever the tracker


def test_hydra_groups_compose_into_a_trainer_config(tmp_path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "configs"), version_base="1.3"):
        cfg = compose(overrides=["+trainer=default", "+logger=wandb", f"trainer.out_dir={tmp_path}"])
    GlobalHydra.instance().clear()
    trainer = instantiate(cfg.trainer)
    assert isinstance(trainer, TrainerConfig)
    assert (trainer.logger, trainer.wandb_mode, trainer.out_dir) == ("wandb", "offline", str(tmp_path))
    assert set(cfg.trainer) - {"_target_"} == set(TrainerConfig.__dataclass_fields__)
