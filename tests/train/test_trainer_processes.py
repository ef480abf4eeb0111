"""Two accelerate processes train as one: same global batch, same first-step gradients, same run.

Note: ``accelerate launch --cpu --num_processes 2`` starts ONE process (accelerate 1.15 routes
``--cpu`` to its single-process launcher). Two CPU processes joined by gloo come from
``accelerate launch --multi_gpu --num_processes 2`` on a machine without GPUs, with the trainer's
``cpu=True``; a test below checks that the process count really is two.

``batch_size`` is the global batch, so the one- and two-process runs use the same config; each of
the two processes gets half of every batch, and DDP's average of the two half-batch mean gradients
is the full-batch mean gradient. The two-process run also checkpoints, resumes (from step 1 to 4)
and validates with uneven shares (11 items in batches of 8: the last batch is 3 + 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from speechrep.train import Trainer, load_model_weights
from speechrep.train.checkpoint import load_training_state
from tests.conftest import PROJECT_ROOT, free_port
from tests.train.toys import ToyData, ToyModel, first_step_then_resume, toy_config


def test_two_processes_match_one(tmp_path):
    launch = [
        *(sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"),
        *("--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"),
        *("--dynamo_backend", "no", "--main_process_port", str(free_port())),
    ]
    script = [str(PROJECT_ROOT / "tests" / "train" / "toys.py"), str(tmp_path / "two")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "PYTHONPATH": str(PROJECT_ROOT)}
    grads_file = tmp_path / "grads.safetensors"
    two = subprocess.run(
        [*launch, *script, "--max-steps", "4", "--grads-to", str(grads_file)],
        env={**env, "CUDA_VISIBLE_DEVICES": ""},  # CPU processes even where GPUs exist
        capture_output=True,
        text=True,
    )
    assert two.returncode == 0, two.stderr[-3000:]

    grads_one, model_one = first_step_then_resume(tmp_path / "one", then_steps=4)
    grads_two = load_file(grads_file)
    assert grads_one.keys() == grads_two.keys()
    assert max(float(g.abs().max()) for g in grads_one.values()) > 1e-3  # a real gradient
    for name, grad in grads_one.items():
        torch.testing.assert_close(grads_two[name], grad, atol=1e-5, rtol=0)

    last = tmp_path / "two" / "checkpoints" / "last"
    state = load_training_state(last)
    assert (state["step"], state["num_processes"], len(state["processes"])) == (4, 2, 2)
    model_two = load_model_weights(ToyModel(seed=0, dropout=0.0), last)
    for name, value in model_one.state_dict().items():
        torch.testing.assert_close(model_two.state_dict()[name], value, atol=1e-5, rtol=0)

    logs = [
        [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        for run in ("one", "two")
    ]
    assert [line["step"] for line in logs[0]] == [line["step"] for line in logs[1]] == [1, 1, 2, 2, 3, 4, 4]
    for line_one, line_two in zip(*logs, strict=True):
        assert line_one.keys() == line_two.keys()
        for key in line_one:
            assert abs(line_one[key] - line_two[key]) < 1e-5, (line_one["step"], key)


def test_processes_that_accelerate_does_not_join_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it, while accelerate stays single-process
    with pytest.raises(RuntimeError, match=r"set TrainerConfig\.cpu=true"):
        Trainer(toy_config(tmp_path, cpu=False), ToyModel(), ToyData(44))
