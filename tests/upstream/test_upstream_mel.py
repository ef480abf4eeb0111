"""MelUpstream: the reference log-mel pipeline, its frame count, value range and 20 ms layer."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.signal
import torch

from speechrep.upstream import MEL_20MS_LAYER, MEL_LAYER, MelSettings, MelUpstream, log_mel


def speech_like(num_samples: int, seed: int = 0) -> np.ndarray:
    """Amplitude-modulated harmonics plus a little noise: a stand-in for voiced speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / 16000
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 25))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.3 * envelope * voiced + 0.01 * rng.standard_normal(num_samples)).astype(np.float32)


def reference_log_mel(wave: np.ndarray) -> np.ndarray:
    """The layer-wise analysis reference pipeline, step by step, (80, T)."""
    wave = wave / np.abs(wave).max() * 0.999
    emphasised = scipy.signal.lfilter([1, -0.97], [1], wave)
    mel = librosa.feature.melspectrogram(
        y=emphasised, sr=16000, n_fft=2048, n_mels=80, hop_length=160, win_length=400, fmin=50, power=1
    )
    return librosa.amplitude_to_db(mel, top_db=80) / 80 + 1


@pytest.mark.parametrize("num_samples", [16000, 12345, 1600, 161])
def test_shape_and_frame_count(num_samples: int) -> None:
    wave = speech_like(num_samples)
    features = log_mel(wave)
    assert features.shape == (1 + num_samples // 160, 80)
    assert features.dtype == np.float32
    assert MelUpstream().num_frames(MEL_LAYER, num_samples) == 1 + num_samples // 160


def test_matches_the_reference_pipeline() -> None:
    wave = speech_like(16000)
    expected = reference_log_mel(wave)
    assert expected.shape == (80, 101)
    np.testing.assert_allclose(log_mel(wave).T, expected, rtol=1e-5, atol=1e-5)


def test_value_range() -> None:
    features = log_mel(speech_like(16000))
    assert features.min() >= 0.0 and features.max() <= 1.0  # typical speech lies in [0, 1]
    # the invariant that always holds: an 80 dB window mapped to a span of at most 1.0, not clipped
    noise = np.random.default_rng(1).standard_normal(16000).astype(np.float32)
    for wave in (speech_like(16000, seed=2), noise):
        values = log_mel(wave)
        assert values.max() - values.min() <= 1.0 + 1e-6
    assert log_mel(noise).max() > 1.0  # documented: loud broadband input exceeds 1 (reference behaviour)


def test_layers_shapes_padding_and_20ms_subsampling() -> None:
    upstream = MelUpstream()
    waves = [torch.from_numpy(speech_like(16000)), torch.from_numpy(speech_like(12345, seed=3))]
    out = upstream(waves)
    assert out.hidden_states[MEL_LAYER].shape == (2, 101, 80)
    assert out.lengths[MEL_LAYER].tolist() == [101, 78]
    assert out.lengths[MEL_20MS_LAYER].tolist() == [51, 39]
    assert not out.hidden_states[MEL_LAYER][1, 78:].any()
    items = upstream.extract(waves)
    for item, wave in zip(items, waves):
        full = torch.from_numpy(log_mel(wave.numpy()))
        assert torch.equal(item[MEL_LAYER], full)
        assert torch.equal(item[MEL_20MS_LAYER], full[::2])  # subsampled, not averaged
    assert upstream.num_frames(MEL_20MS_LAYER, 12345) == 39


def test_geometry() -> None:
    upstream = MelUpstream()
    assert upstream.layer_names == [MEL_LAYER, MEL_20MS_LAYER]
    assert upstream.hop_length(MEL_LAYER) == 160 and upstream.hop_length(MEL_20MS_LAYER) == 320
    assert upstream.receptive_field(MEL_LAYER) == upstream.receptive_field(MEL_20MS_LAYER) == 400
    assert upstream.feature_dim(MEL_20MS_LAYER) == 80
    with pytest.raises(ValueError, match=r"unknown layer 'tf\.0' for mel; valid: mel, mel\.20ms"):
        upstream.hop_length("tf.0")


def test_silent_input_fails_with_its_index() -> None:
    with pytest.raises(ValueError, match="waveform 1: the waveform is silent"):
        MelUpstream()([torch.from_numpy(speech_like(1600)), torch.zeros(1600)])


def test_fingerprint_holds_the_settings() -> None:
    fingerprint = MelUpstream().fingerprint()
    assert fingerprint["settings"]["n_mels"] == 80 and fingerprint["settings"]["preemphasis"] == 0.97
    assert MelUpstream(MelSettings(fmin=0.0)).fingerprint() != fingerprint
    assert MelUpstream().fingerprint() == fingerprint
    with pytest.raises(ValueError, match="exceeds n_fft"):
        MelSettings(win_length=4096)
