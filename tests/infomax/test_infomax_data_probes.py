"""Crop datasets, cached features with frame-aligned labels, and linear probes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechrep.data import Manifest, Segment, Utterance, save_audio
from speechrep.infomax import InfoMaxEncoder, infomax_config
from speechrep.infomax.data import FixedCropDataset, RandomCropDataset
from speechrep.infomax.features import LabelIndex, encode_manifest, frame_labels, utterance_labels
from speechrep.infomax.probes import ProbeConfig, run_probe, stack_frames, time_mean


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Manifest:
    root = tmp_path_factory.mktemp("crops")
    rng = np.random.default_rng(0)
    utts = []
    for i, n in enumerate([4000, 6400, 1000]):
        wave = (np.arange(n) / 16000).astype(np.float32) * 0.5 + 0.01 * rng.standard_normal(n).astype(
            np.float32
        )
        path = save_audio(root / f"u{i}.wav", wave, 16000)
        phones = [Segment("a", 0.0, n / 32000), Segment("b", n / 32000, n / 16000)]
        utts.append(Utterance(f"u{i}", str(path), 16000, n / 16000, speaker=f"s{i % 2}", phones=phones))
    return Manifest(utts)


def test_random_crops_are_aligned_seeded_and_padded(manifest):
    data = RandomCropDataset(manifest, crop_samples=1600, crop_step=160, preload=True)
    torch.manual_seed(0)
    first = [data[1]["wave"] for _ in range(5)]
    torch.manual_seed(0)
    again = [data[1]["wave"] for _ in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert len({float(w[0]) for w in first}) > 1  # a new crop per access
    full = torch.from_numpy(data.wave(1))
    starts = range(0, len(full) - 1600 + 1, 160)
    assert all(any(torch.equal(full[s : s + 1600], w) for s in starts) for w in first)
    short = data[2]["wave"]
    assert short.shape == (1600,) and torch.all(short[1000:] == 0)


def test_fixed_crops_are_centred_and_deterministic(manifest):
    data = FixedCropDataset(manifest, crop_samples=1600)
    item = data[0]
    assert item["index"] == 0 and torch.equal(item["wave"], data[0]["wave"])
    assert torch.equal(item["wave"], torch.from_numpy(data.wave(0))[1200:2800])


def test_features_are_cached_per_utterance_with_frame_aligned_phones(manifest):
    encoder = InfoMaxEncoder(infomax_config("sim", conv_channels=8, recurrent_dim=4))
    features = encode_manifest(encoder, manifest, modules=[2, 3])
    assert [len(f) for f in features[2]] == [25, 40, 6]  # 100 Hz: floor(T / 160)
    again = encode_manifest(encoder, manifest, modules=[2])
    assert all(torch.equal(a, b) for a, b in zip(features[2], again[2]))  # deterministic mu
    labels = frame_labels(manifest[0], encoder.geometry(2), 25)
    # centre of frame i is sample 160 i + 20; the phone boundary is at sample 2000 (frame 12.375)
    assert labels == ["a"] * 13 + ["b"] * 12
    assert frame_labels(manifest[0], encoder.geometry(2), 27)[-2:] == [None, None]


def test_probe_learns_separable_classes_without_bias_and_reports_micro_accuracy():
    torch.manual_seed(0)
    centres = torch.eye(4) * 3
    y = torch.arange(4).repeat(50)
    x = centres[y] + 0.3 * torch.randn(200, 4)
    config = ProbeConfig(epochs=20, lr=0.05, batch_size=32, bias=False, seed=1)
    result = run_probe(x[:150], y[:150], x[150:], y[150:], 4, config)
    assert result.test_accuracy == 1.0 and result.head.bias is None
    assert len(list(result.head.parameters())) == 1
    repeat = run_probe(x[:150], y[:150], x[150:], y[150:], 4, config)
    assert torch.equal(result.head.weight, repeat.head.weight)  # seeded


def test_standardized_probe_is_blind_to_feature_scale_and_its_head_reads_raw_features():
    torch.manual_seed(0)
    y = torch.arange(3).repeat(60)
    x = 1e-4 * (torch.eye(3)[y] + 0.2 * torch.randn(180, 3)) + 0.05  # tiny spread, offset mean
    x = torch.cat([x, torch.full((180, 1), 0.05)], dim=1)  # and a constant dimension
    raw = run_probe(x[:120], y[:120], x[120:], y[120:], 3, ProbeConfig(epochs=20, seed=1))
    config = ProbeConfig(epochs=20, seed=1, standardize=True)
    scaled = run_probe(x[:120], y[:120], x[120:], y[120:], 3, config)
    assert raw.test_accuracy < 0.6 < 0.9 < scaled.test_accuracy  # Adam cannot scale 1e-4 features up
    z = (x[:120] - x[:120].mean(0)) / torch.cat([x[:120, :3].std(0, correction=0), torch.ones(1)])
    plain = run_probe(z, y[:120], z, y[:120], 3, ProbeConfig(epochs=20, seed=1))
    assert torch.allclose(scaled.head(x[:120]), plain.head(z), atol=1e-3)  # folded into W and b
    with pytest.raises(ValueError, match="set bias=true, or standardize=false"):
        ProbeConfig(bias=False, standardize=True)


def test_pooling_stacking_and_label_indices(manifest):
    assert torch.equal(time_mean([torch.tensor([[1.0, 2.0], [3.0, 4.0]])]), torch.tensor([[2.0, 3.0]]))
    index = LabelIndex().fit(utterance_labels(manifest, "speaker"))
    assert index.classes_ == ["s0", "s1"]
    assert index.transform(["s1", None]).tolist() == [1, -1]
    x, y = stack_frames([torch.ones(3, 2)], [torch.tensor([0, -1, 1])])
    assert x.shape == (2, 2) and y.tolist() == [0, 1]
    with pytest.raises(ValueError, match="3 frames but 2 frame labels"):
        stack_frames([torch.ones(3, 2)], [torch.tensor([0, 1])])
    with pytest.raises(ValueError, match="no 'vowel' label"):
        utterance_labels(manifest, "vowel")
