"""Shared fixtures: small corpora of synthesised audio with alignments, written to temporary folders."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from speechrep.data import Manifest, Segment, Utterance, save_audio

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def run_entry_script(name: str, *overrides: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``scripts/<name>.py`` with Hydra ``overrides`` from the project root; fail with its stderr.

    ``env`` adds to (or replaces entries of) the current environment. Returns the script's stdout.
    """
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / f"{name}.py"), *overrides],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env} if env else None,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def free_port() -> int:
    """A TCP port free right now, for an ``accelerate launch`` rendezvous (not the shared default)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_noise_corpus(folder: Path, durations: list[float], seed: int = 0) -> Manifest:
    """Utterances of coloured noise with evenly spaced phone/word alignments (silence at both ends).

    Cheap stand-ins for speech where only shapes, alignment bookkeeping and bit-exactness matter.
    """
    rng = np.random.default_rng(seed)
    utterances = []
    for i, duration in enumerate(durations):
        n = round(duration * 16000)
        wave = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same").astype(np.float32) * 0.3
        path = save_audio(folder / f"utt{i:03d}.wav", wave, 16000)
        edges = np.linspace(0.1, duration - 0.1, 7)
        phones = [Segment("sil", 0.0, 0.1)]
        phones += [Segment("abcdef"[(i + k) % 6], edges[k], edges[k + 1]) for k in range(6)]
        phones.append(Segment("sil", edges[-1], n / 16000))
        words = [Segment(f"w{(i + k) % 4}", edges[2 * k], edges[2 * k + 2]) for k in range(3)]
        utterances.append(
            Utterance(
                f"utt{i:03d}", str(path), 16000, n / 16000, speaker=f"s{i % 3}", phones=phones, words=words
            )
        )
    return Manifest(utterances, name="noise")


@pytest.fixture
def noise_corpus(tmp_path: Path) -> Manifest:
    manifest = make_noise_corpus(tmp_path / "corpus", [0.7, 1.3, 0.9, 1.0, 0.55, 1.6])
    manifest.save(tmp_path / "corpus" / "manifest.jsonl")
    return manifest
