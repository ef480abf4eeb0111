"""The extraction entry script: resumes after SIGKILL, and 1 or 2 accelerate processes agree bitwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from speechrep.store import FeatureStore
from tests.conftest import PROJECT_ROOT, free_port, make_noise_corpus

SCRIPT = str(PROJECT_ROOT / "scripts" / "extract_features.py")


def overrides(manifest: Path, store_root: Path, run_dir: Path, shard_seconds: float) -> list[str]:
    return [
        "dataset=manifest",
        f"dataset.path={manifest}",
        "upstream=tiny_random",
        f"store_root={store_root}",
        f"hydra.run.dir={run_dir}",
        f"extraction.shard_seconds={shard_seconds}",
        "extraction.layers=[cnn.0,cnn.3,tf.0,tf.2]",
        "progress=false",
    ]


def environment() -> dict[str, str]:
    # one thread per process, so the one- and two-process runs do the same arithmetic
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT_ROOT)}


def store_arrays(store: FeatureStore) -> dict[str, np.ndarray]:
    arrays = {}
    for layer in store.layers:
        arrays[layer] = np.asarray(store.features(layer))
        arrays[f"{layer}.offsets"] = store.offsets(layer)
    return arrays


def assert_same_store(a: FeatureStore, b: FeatureStore) -> None:
    assert a.index == b.index
    x, y = store_arrays(a), store_arrays(b)
    assert x.keys() == y.keys()
    for key in x:
        assert np.array_equal(x[key], y[key]), key


def test_resumes_after_sigkill_without_redoing_finished_shards(tmp_path):
    manifest = make_noise_corpus(tmp_path / "corpus", [2.0] * 40, seed=1)
    path = manifest.save(tmp_path / "corpus" / "manifest.jsonl")
    args = [sys.executable, SCRIPT, *overrides(path, tmp_path / "store", tmp_path / "run", shard_seconds=2.0)]
    process = subprocess.Popen(args, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    done: list[Path] = []
    while time.time() < deadline and process.poll() is None:
        done = list((tmp_path / "store").glob("*/shards/*/index.json"))
        if len(done) >= 3:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 3 <= len(done) < 40, "the run must be killed part-way for this test to mean anything"
    assert not list((tmp_path / "store").glob("*/COMPLETE"))

    resumed = subprocess.run(args, env=environment(), capture_output=True, text=True, check=True)
    log = resumed.stdout + resumed.stderr
    finished_before = int(log.split("resuming ")[1].split(": ")[1].split(" of ")[0])
    assert finished_before >= len(done)
    store = FeatureStore(next((tmp_path / "store").glob("*/COMPLETE")).parent)

    fresh = subprocess.run(
        [sys.executable, SCRIPT, *overrides(path, tmp_path / "fresh", tmp_path / "run2", shard_seconds=2.0)],
        env=environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "resuming" not in fresh.stdout + fresh.stderr
    assert_same_store(store, FeatureStore(next((tmp_path / "fresh").glob("*/COMPLETE")).parent))


def test_two_accelerate_processes_write_the_same_store_as_one(tmp_path):
    manifest = make_noise_corpus(tmp_path / "corpus", [0.6, 1.1, 0.8, 1.4, 0.5, 0.9, 1.2], seed=2)
    path = manifest.save(tmp_path / "corpus" / "manifest.jsonl")
    one = subprocess.run(
        [sys.executable, SCRIPT, *overrides(path, tmp_path / "one", tmp_path / "r1", shard_seconds=1.5)],
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0, one.stderr
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",  # `--cpu` would start one process; without CUDA these join over gloo
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",  # not the default 29500, which another launch may hold
        str(free_port()),
        SCRIPT,
    ]
    two = subprocess.run(
        [*launch, *overrides(path, tmp_path / "two", tmp_path / "r2", shard_seconds=1.5)],
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    for index in (0, 1):  # two processes really ran, each on its own shards
        assert f"process {index} of 2:" in two.stdout + two.stderr
    store_one = FeatureStore(next((tmp_path / "one").glob("*/COMPLETE")).parent)
    store_two = FeatureStore(next((tmp_path / "two").glob("*/COMPLETE")).parent)
    assert store_one.path.name == store_two.path.name  # same content key
    assert store_one.meta["num_shards"] >= 4
    assert_same_store(store_one, store_two)
