"""A tiny synthetic corpus (espeak-ng, every speaker reads the same sentences) and its feature stores,
built once per test session for the experiment tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from speechrep.data import Manifest
from speechrep.data.synth.corpus import synthesize_corpus
from speechrep.store import ExtractionSettings, FeatureStore, extract_features
from speechrep.upstream import load_upstream
from tests.conftest import PROJECT_ROOT


@dataclass(frozen=True)
class SyntheticStores:
    manifest: Manifest
    manifest_path: Path
    mel_frames: FeatureStore  # layers mel (10 ms), mel.20ms
    tiny_frames: FeatureStore  # cnn.0-6 (cnn.0-5 pooled to 10 ms), tf.0-2 at 20 ms
    mel_phones: FeatureStore  # middle third of each phone
    tiny_phones: FeatureStore
    tiny_words: FeatureStore


@pytest.fixture(scope="session")
def synthetic_stores(tmp_path_factory: pytest.TempPathFactory) -> SyntheticStores:
    root = tmp_path_factory.mktemp("synthetic_stores")
    manifest = synthesize_corpus(
        root / "corpus",
        num_speakers=6,
        utterances_per_speaker=5,
        seed=0,
        vocabulary_size=40,
        parallel_text=True,
    )
    tiny_config = OmegaConf.load(PROJECT_ROOT / "configs" / "upstream" / "tiny_random.yaml")
    tiny = load_upstream("wav2vec2", random_init=True, config_overrides=dict(tiny_config.config_overrides))
    mel = load_upstream("mel")

    def store(upstream, **settings) -> FeatureStore:
        return extract_features(
            manifest, upstream, root / "stores", ExtractionSettings(**settings), progress=False
        )

    return SyntheticStores(
        manifest=manifest,
        manifest_path=root / "corpus" / "manifest.jsonl",
        mel_frames=store(mel, span="frame"),
        tiny_frames=store(tiny, span="frame", cnn_to_10ms=True),
        mel_phones=store(mel, span="phone", middle_third=True),
        tiny_phones=store(tiny, span="phone", middle_third=True),
        tiny_words=store(tiny, span="word"),
    )
