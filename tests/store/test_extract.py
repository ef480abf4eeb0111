"""Feature extraction into the store: values, spans, caching by content, skipped inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from speechrep.data import Manifest, Utterance, load_audio
from speechrep.store import ExtractionSettings, FeatureStore, StoreError, extract_features, plan_shards
from speechrep.upstream.frames import pool_segments
from tests.conftest import PROJECT_ROOT


def tiny_upstream(name: str = "tiny_random"):
    cfg = OmegaConf.load(PROJECT_ROOT / "configs" / "upstream" / f"{name}.yaml")
    return instantiate(cfg)


@pytest.fixture(scope="module")
def upstream():
    return tiny_upstream()


def direct(upstream, manifest: Manifest, layers: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Features computed one utterance at a time, without the store."""
    out = {}
    for utt in manifest:
        wave = torch.from_numpy(load_audio(utt.audio_path, upstream.sample_rate))
        out[utt.id] = {k: v.float().numpy() for k, v in upstream.extract([wave], layers)[0].items()}
    return out


def test_frame_span_equals_direct_forward_in_float16(tmp_path, noise_corpus, upstream):
    layers = ["cnn.0", "cnn.6", "tf.0", upstream.layer_names[-1]]
    settings = ExtractionSettings(layers=layers, span="frame", shard_seconds=2.0, batch_seconds=3.0)
    store = extract_features(noise_corpus, upstream, tmp_path / "store", settings)
    assert len(plan_shards(noise_corpus, 2.0)) > 1  # the store was merged from several shards
    assert store.utterance_ids == noise_corpus.ids and store.skipped == []
    expected = direct(upstream, noise_corpus, layers)
    for layer in layers:
        assert store.features(layer).dtype == np.float16
        offsets = store.offsets(layer)
        for i, utt in enumerate(noise_corpus):
            n = upstream.num_frames(layer, round(utt.duration * 16000))
            assert offsets[i + 1] - offsets[i] == n
            want = expected[utt.id][layer].astype(np.float16)
            np.testing.assert_allclose(store.get(layer, utt.id), want, rtol=0, atol=1e-2)
            # same bits as a direct float16 cast, up to batching noise of the model itself
            assert np.mean(store.get(layer, utt.id) == want.astype(np.float32)) > 0.9
        assert store.hop_seconds(layer) == upstream.hop_length(layer) / 16000


def test_phone_span_rows_are_segment_means_and_silence_is_excluded(tmp_path, noise_corpus, upstream):
    settings = ExtractionSettings(layers=["tf.1"], span="phone", middle_third=True)
    store = extract_features(noise_corpus, upstream, tmp_path / "store", settings)
    table = store.segments
    assert len(table) == store.features("tf.1").shape[0] == 6 * len(noise_corpus)
    assert "sil" not in set(table.label)
    expected = direct(upstream, noise_corpus, ["tf.1"])
    for utt in noise_corpus:
        rows = table.utterance == utt.id
        spans = [(s.start, s.end) for s in utt.phones if s.label != "sil"]
        want = pool_segments(torch.from_numpy(expected[utt.id]["tf.1"]), spans, 0.02, middle_third=True)
        np.testing.assert_allclose(store.get("tf.1", utt.id), np.asarray(want), atol=1e-2)
        assert list(table.label[rows]) == [s.label for s in utt.phones if s.label != "sil"]
        np.testing.assert_allclose(table.start[rows], [s[0] for s in spans])


def test_chosen_segments_and_utterance_span(tmp_path, noise_corpus, upstream):
    from speechrep.data.sampling import SegmentRef

    chosen = [SegmentRef("utt002", 2, "w0", 0.4, 0.6), SegmentRef("utt000", 1, "w1", 0.2, 0.4)]
    utt2 = noise_corpus["utt002"]
    chosen[0] = SegmentRef("utt002", 1, utt2.words[1].label, utt2.words[1].start, utt2.words[1].end)
    store = extract_features(
        noise_corpus, upstream, tmp_path / "s", ExtractionSettings(layers=["tf.0"], span="word"), chosen
    )
    assert store.features("tf.0").shape[0] == 2
    assert list(store.segments.utterance) == ["utt000", "utt002"]  # manifest order
    whole = extract_features(
        noise_corpus, upstream, tmp_path / "s", ExtractionSettings(layers=["tf.0"], span="utterance")
    )
    assert whole.path != store.path and whole.features("tf.0").shape[0] == len(noise_corpus)
    expected = direct(upstream, noise_corpus, ["tf.0"])
    np.testing.assert_allclose(whole.get("tf.0", "utt001")[0], expected["utt001"]["tf.0"].mean(0), atol=1e-2)


def test_store_is_reused_only_for_identical_inputs(tmp_path, noise_corpus, upstream):
    settings = ExtractionSettings(layers=["tf.0"])
    first = extract_features(noise_corpus, upstream, tmp_path, settings)
    stamp = (first.path / "COMPLETE").stat().st_mtime_ns
    again = extract_features(
        noise_corpus, upstream, tmp_path, ExtractionSettings(layers=["tf.0"], batch_seconds=1)
    )
    assert again.path == first.path and (first.path / "COMPLETE").stat().st_mtime_ns == stamp
    changed = Manifest([*noise_corpus.utterances[:-1]], name="noise")
    assert extract_features(changed, upstream, tmp_path, settings).path != first.path
    other_seed = tiny_upstream()
    other_seed_fp = other_seed.fingerprint()
    assert other_seed_fp == upstream.fingerprint()  # same config + seed: same identity
    middle = ExtractionSettings(layers=["tf.0"], span="phone", middle_third=True)
    full = ExtractionSettings(layers=["tf.0"], span="phone", middle_third=False)
    assert (
        extract_features(noise_corpus, upstream, tmp_path, middle).path
        != extract_features(noise_corpus, upstream, tmp_path, full).path
    )


def test_bad_inputs_are_skipped_and_reported(tmp_path, noise_corpus, upstream, caplog):
    folder = tmp_path / "bad"
    folder.mkdir()
    sf.write(folder / "empty.wav", np.zeros(0, np.float32), 16000)
    nan = np.zeros(8000, np.float32)
    nan[5] = np.nan
    sf.write(folder / "nan.wav", nan, 16000, subtype="FLOAT")
    good = noise_corpus[0]
    bad = [
        Utterance("missing", str(folder / "missing.wav"), 16000, 1.0),
        Utterance("empty", str(folder / "empty.wav"), 16000, 0.5),
        Utterance("nan", str(folder / "nan.wav"), 16000, 0.5),
        Utterance("late", good.audio_path, 16000, 5.0, phones=[("a", 4.0, 4.5)]),  # past the real audio
    ]
    manifest = Manifest([*bad, *noise_corpus.utterances[:2]], name="mixed")
    with caplog.at_level("WARNING"):
        store = extract_features(manifest, upstream, tmp_path / "s", ExtractionSettings(layers=["tf.0"]))
    assert store.utterance_ids == noise_corpus.ids[:2]
    reasons = {s["id"]: s["reason"] for s in store.skipped}
    assert "missing.wav does not exist" in reasons["missing"]
    assert "empty.wav" in reasons["empty"]
    assert "nan.wav holds 1 non-finite" in reasons["nan"]
    assert "late" in reasons["late"] and "past the audio" in reasons["late"]
    assert "skipped 4 of 6 utterances" in caplog.text
    saved = json.loads((store.path / "index.json").read_text())
    assert len(saved["skipped"]) == 4


def test_unknown_layer_and_incomplete_store_errors(tmp_path, noise_corpus, upstream):
    with pytest.raises(ValueError, match=r"unknown layer 'tf\.99'"):
        extract_features(noise_corpus, upstream, tmp_path, ExtractionSettings(layers=["tf.99"]))
    with pytest.raises(ValueError, match="span must be one of"):
        ExtractionSettings(span="syllable")
    with pytest.raises(StoreError, match="not a complete feature store"):
        FeatureStore(tmp_path)
    store = extract_features(noise_corpus, upstream, tmp_path, ExtractionSettings(layers=["tf.0"]))
    with pytest.raises(StoreError, match=r"no layer 'tf\.1'; stored layers: tf\.0"):
        store.features("tf.1")
    with pytest.raises(StoreError, match="no utterance 'x'"):
        store.get("tf.0", "x")


def test_cnn_layers_pooled_to_10ms_line_up_with_mel(tmp_path, noise_corpus, upstream):
    settings = ExtractionSettings(layers=["cnn.0", "cnn.5", "cnn.6"], cnn_to_10ms=True)
    store = extract_features(noise_corpus, upstream, tmp_path, settings)
    assert store.hop_seconds("cnn.0") == store.hop_seconds("cnn.5") == 0.01
    assert store.hop_seconds("cnn.6") == 0.02  # 20 ms layers are left as they are
    counts0 = np.diff(store.offsets("cnn.0"))
    counts5 = np.diff(store.offsets("cnn.5"))
    np.testing.assert_array_equal(counts0, counts5)
    samples = np.array([round(u.duration * 16000) for u in noise_corpus])
    np.testing.assert_array_equal(counts0, (samples - 400) // 160 + 1)


def test_peak_memory_does_not_grow_with_corpus_length(tmp_path, upstream):
    """Rows are held one shard at a time and merged by streaming: 4x the corpus, same peak."""
    import tracemalloc

    from tests.conftest import make_noise_corpus

    def peak(n: int) -> int:
        manifest = make_noise_corpus(tmp_path / f"c{n}", [1.0] * n, seed=n)
        settings = ExtractionSettings(layers=["cnn.0", "tf.0"], shard_seconds=2.0)
        tracemalloc.start()
        extract_features(manifest, upstream, tmp_path / f"s{n}", settings)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(6), peak(24)
    cnn0_bytes_per_utt = 3199 * upstream.feature_dim("cnn.0") * 2  # float16 rows of one utterance
    assert large - small < 4 * cnn0_bytes_per_utt  # far less than the 18 extra utterances' rows
