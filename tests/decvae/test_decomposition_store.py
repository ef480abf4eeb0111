"""Decomposed corpora in the feature store, and the decompose entry script end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from speechrep.data import Manifest, Utterance, save_audio
from speechrep.data.audio import load_audio
from speechrep.decvae.decomposition import (
    DecompositionUpstream,
    EWTDecomposition,
    Preprocessing,
    decompose_corpus,
    decompose_from_config,
    frame_signal,
    store_quality,
)
from tests.conftest import make_noise_corpus
from tests.test_configs import compose_config


def test_frames_are_stored_per_layer_and_reconstruct(tmp_path):
    noise_corpus = make_noise_corpus(tmp_path / "corpus", [0.7, 0.45, 0.9])
    upstream = DecompositionUpstream(EWTDecomposition(3, device="cpu"), frames_per_batch=7)
    store = decompose_corpus(noise_corpus, upstream, tmp_path / "store", shard_seconds=1.0)
    assert store.layers == ["input", "comp.0", "comp.1", "comp.2", "residue", "padded", "centre_hz"]
    assert store.hop_seconds("comp.0") == pytest.approx(0.02)
    for utt in noise_corpus:
        frames = store.get("input", utt.id)
        assert frames.shape == (1 + (round(utt.duration * 16000) - 400) // 320, 400)
        wave = Preprocessing().apply(load_audio(utt.audio_path, 16000), 16000)
        np.testing.assert_allclose(
            frames, frame_signal(torch.from_numpy(wave), 400, 320), atol=2e-3, rtol=1e-3
        )
        total = sum(store.get(f"comp.{k}", utt.id) for k in range(3)) + store.get("residue", utt.id)
        np.testing.assert_allclose(total, frames, atol=1e-2)  # EWT is exact; float16 rows are not
        centres = store.get("centre_hz", utt.id)
        padded = store.get("padded", utt.id) > 0.5
        assert np.all(np.diff(np.where(padded, np.nan, centres), axis=1)[~np.isnan(np.diff(centres))] >= 0)
    report = store_quality(store)
    assert report.signals == sum(len(store.get("input", u)) for u in store.utterance_ids)
    assert report.nrmse_with_residue < 1e-3 < report.nrmse

    again = decompose_corpus(noise_corpus, upstream, tmp_path / "store")  # same key: reused
    assert again.path == store.path
    other = DecompositionUpstream(EWTDecomposition(4, device="cpu"))
    assert decompose_corpus(noise_corpus, other, tmp_path / "store").path != store.path


def test_utterance_level_stores_samples(tmp_path):
    manifest = make_noise_corpus(tmp_path / "corpus", [0.3, 0.45])
    upstream = DecompositionUpstream(EWTDecomposition(2, device="cpu"), level="utterance")
    store = decompose_corpus(manifest, upstream, tmp_path / "store")
    for utt in manifest:
        n = round(utt.duration * 16000)
        assert store.get("comp.1", utt.id).shape == (n, 1)
        assert store.get("padded", utt.id).shape == (1, 2)
    assert store_quality(store).signals == 2


def test_short_utterances_give_no_frames_not_an_error(tmp_path):
    rng = np.random.default_rng(0)
    utterances = []
    for i, n in enumerate((320, 8000)):  # 320 samples: shorter than one frame
        path = save_audio(tmp_path / f"u{i}.wav", 0.1 * rng.standard_normal(n).astype(np.float32), 16000)
        utterances.append(Utterance(f"u{i}", str(path), 16000, n / 16000))
    upstream = DecompositionUpstream(EWTDecomposition(2, device="cpu"))
    store = decompose_corpus(Manifest(utterances), upstream, tmp_path / "store")
    assert store.get("comp.0", "u0").shape == (0, 400)
    assert store.get("comp.0", "u1").shape == (24, 400)


def test_decompose_config_writes_store_and_results(noise_corpus, tmp_path):
    """What ``scripts/decompose.py`` runs, from its composed config (in process: no interpreter start-up)."""
    cfg = compose_config(
        "decompose",
        [
            "dataset=manifest",
            f"dataset.path={tmp_path / 'corpus' / 'manifest.jsonl'}",
            "decomposition=ewt",
            "decomposition.n_components=2",
            f"store_root={tmp_path / 'store'}",
        ],
    )
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
    store, report = decompose_from_config(cfg)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["seed"] == 0 and results["method"]["method"] == "ewt"
    assert results["quality"] == report.as_dict() and results["store"] == str(store.path)
    assert 0 < report.nrmse < 0.5 and report.nrmse_with_residue < 1e-3
    assert len(store.utterance_ids) == len(noise_corpus)
    assert store.layers == ["input", "comp.0", "comp.1", "residue", "padded", "centre_hz"]
