"""A run interrupted at any point (exception or SIGKILL) and resumed ends with the same weights and log.

The toy run (44 items, batch 8, drop_last: 5 steps per epoch, 17 steps) checkpoints every 3 steps
and validates every 4, with warm-up + cosine, AdamW, clipping, dropout and per-item random noise,
so a resumption must restore the optimiser, the schedule, the epoch position and every generator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speechrep.train.checkpoint import load_training_state
from tests.conftest import PROJECT_ROOT
from tests.train.toys import Interrupt, train_toy

TOYS = str(PROJECT_ROOT / "tests" / "train" / "toys.py")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict[str, torch.Tensor], str]:
    """Final weights and metrics log of the uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model, summary = train_toy(out)
    torch.set_num_threads(threads)
    assert summary["steps"] == 17 and summary["epochs_completed"] == 3
    return model.state_dict(), (out / "metrics.jsonl").read_text()


def assert_same_run(out: Path, model: torch.nn.Module, reference) -> None:
    weights, log = reference
    for name, value in model.state_dict().items():
        assert torch.equal(value, weights[name]), name
    assert (out / "metrics.jsonl").read_text() == log


# call 2: before any checkpoint; 4: right after one; 6: first step of epoch 1 (epoch boundary at 5);
# 11: mid-epoch 2, two steps after a checkpoint; 17: the very last step
@pytest.mark.parametrize("interrupt_at_call", [2, 4, 6, 11, 17])
def test_interrupted_run_resumes_to_identical_weights_and_log(tmp_path, reference, interrupt_at_call):
    with pytest.raises(Interrupt):
        train_toy(tmp_path, raise_at_call=interrupt_at_call)
    checkpoint = tmp_path / "checkpoints" / "last"
    expected_step = 3 * ((interrupt_at_call - 1) // 3)
    if expected_step:
        assert load_training_state(checkpoint)["step"] == expected_step
    else:
        assert not checkpoint.exists()
    model, summary = train_toy(tmp_path)
    assert summary["steps"] == 17
    assert_same_run(tmp_path, model, reference)


def test_twice_interrupted_run_with_workers_matches_single_process_loading(tmp_path, reference):
    # the reference loads in the main process; items must not depend on who loads them
    with pytest.raises(Interrupt):
        train_toy(tmp_path, raise_at_call=5, num_workers=2)
    with pytest.raises(Interrupt):
        train_toy(tmp_path, raise_at_call=6, num_workers=2)  # resumed at step 3, dies at step 9
    model, _ = train_toy(tmp_path, num_workers=2)
    assert_same_run(tmp_path, model, reference)


def test_sigkill_mid_epoch_then_resume(tmp_path, reference):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "PYTHONPATH": str(PROJECT_ROOT)}
    killed = subprocess.run(
        [sys.executable, TOYS, str(tmp_path), "--max-steps", "17", "--kill-at-call", "9"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    state = load_training_state(tmp_path / "checkpoints" / "last")
    assert (state["step"], state["epoch"], state["position"]) == (6, 1, 1)  # mid-epoch
    assert not list((tmp_path / "checkpoints").glob(".*"))  # no half-written folder left
    logged = [line for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"step": 8,' in line]
    assert logged, "the killed run logged past its last checkpoint; resumption must drop those lines"
    model, summary = train_toy(tmp_path)
    assert summary["steps"] == 17
    assert_same_run(tmp_path, model, reference)


def test_finished_run_is_not_trained_again(tmp_path, reference):
    train_toy(tmp_path)
    log = (tmp_path / "metrics.jsonl").read_text()
    model, summary = train_toy(tmp_path)
    assert summary["steps"] == 17
    assert model.calls == 0
    assert (tmp_path / "metrics.jsonl").read_text() == log
    assert_same_run(tmp_path, model, reference)


def test_resuming_with_other_trajectory_settings_is_refused(tmp_path):
    with pytest.raises(Interrupt):
        train_toy(tmp_path, raise_at_call=5)
    with pytest.raises(ValueError, match=r"lr: 0\.05 -> 0\.1"):
        train_toy(tmp_path, lr=0.1)


def test_raising_max_steps_continues_the_run(tmp_path):
    train_toy(tmp_path, max_steps=10, schedule="constant")
    model, summary = train_toy(tmp_path, max_steps=12, schedule="constant")
    assert summary["steps"] == 12 and model.calls == 2
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == sorted(steps) and steps[-1] == 12


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_run_resumes_identically(tmp_path, precision):
    whole, _ = train_toy(tmp_path / "whole", mixed_precision=precision)
    with pytest.raises(Interrupt):
        train_toy(tmp_path / "cut", mixed_precision=precision, raise_at_call=8)
    resumed, _ = train_toy(tmp_path / "cut", mixed_precision=precision)
    assert_same_run(
        tmp_path / "cut", resumed, (whole.state_dict(), (tmp_path / "whole" / "metrics.jsonl").read_text())
    )
