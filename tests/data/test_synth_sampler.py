"""The interventional sampler over espeak-ng speech: protocol, determinism, and factor round trips."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.data.synth.sampler import HVD_WORDS, SyntheticSpeechSampler
from speechrep.metrics.utils import Sampler

FS = 16000


def autocorrelation_f0(x: np.ndarray) -> float:
    """F0 (Hz) from the highest peak of the unbiased autocorrelation between 60 and 400 Hz.

    Unbiased (divided by the number of overlapping samples): the plain sum shrinks with the lag and at
    low F0 loses to the short formant periodicities.
    """
    x = x.astype(np.float64) - x.mean()
    r = np.correlate(x, x, "full")[len(x) - 1 :] / np.arange(len(x), 0, -1)
    lags = np.arange(FS // 400, FS // 60 + 1)
    return FS / lags[np.argmax(r[lags])]


def speech_length(x: np.ndarray) -> int:
    """Index of the last sample above 1 % of the peak."""
    return int(np.flatnonzero(np.abs(x) > 0.01 * np.abs(x).max()).max())


@pytest.fixture(scope="module")
def sampler() -> SyntheticSpeechSampler:
    return SyntheticSpeechSampler(voices=["en-us+m3", "en-us+f2"], words=HVD_WORDS[:4])


def test_protocol_sizes_and_determinism(sampler):
    assert isinstance(sampler, Sampler) and sampler.factor_sizes == (2, 5, 3, 4)
    factors = sampler.sample_factors(300, np.random.default_rng(0))
    assert factors.shape == (300, 4) and np.issubdtype(factors.dtype, np.integer)
    assert all(set(np.unique(factors[:, k])) == set(range(n)) for k, n in enumerate(sampler.factor_sizes))
    first = sampler.sample_observations_from_factors(factors[:6], np.random.default_rng(1))
    fresh = SyntheticSpeechSampler(voices=["en-us+m3", "en-us+f2"], words=HVD_WORDS[:4])  # empty cache
    again = fresh.sample_observations_from_factors(factors[:6], np.random.default_rng(1))
    assert first.shape == (6, 400) and first.dtype == np.float32 and np.array_equal(first, again)
    assert np.all(np.sqrt(np.mean(first**2, axis=1)) > 0.01)  # frames lie in the voiced vowel


def test_frame_position_is_the_only_randomness(sampler):
    row = np.array([[0, 2, 1, 0]] * 20)
    frames = sampler.sample_observations_from_factors(row, np.random.default_rng(3))
    assert len({f.tobytes() for f in frames}) > 1
    words = SyntheticSpeechSampler(voices=["en-us+m3"], words=["heed"], observation="word")
    a = words.sample_observations_from_factors(np.zeros((2, 4), dtype=int), np.random.default_rng(0))
    b = words.sample_observations_from_factors(np.zeros((1, 4), dtype=int), np.random.default_rng(9))
    assert np.array_equal(a[0], a[1]) and np.array_equal(a[0], b[0])


def test_pitch_factor_raises_f0():
    # a female voice: at the 60-90 Hz of low-pitched male voices this simple estimator makes octave errors
    long_frames = SyntheticSpeechSampler(voices=["en-us+f2"], words=["hod"], frame_length=1024)
    rng = np.random.default_rng(0)
    f0 = [
        np.median([autocorrelation_f0(f) for f in long_frames.sample_observations_from_factors(rows, rng)])
        for rows in (np.array([[0, p, 1, 0]] * 5) for p in range(len(long_frames.pitches)))
    ]
    assert all(np.diff(f0) > 0), f0


def test_rate_factor_shortens_the_word():
    words = SyntheticSpeechSampler(voices=["en-us+m3"], words=["hawed"], observation="word")
    assert words.sample_observations_from_factors(
        np.zeros((1, 4), dtype=int), np.random.default_rng(0)
    ).shape == (
        1,
        12000,
    )
    levels = np.array([[0, 2, r, 0] for r in range(len(words.rates))])
    lengths = [
        speech_length(x) for x in words.sample_observations_from_factors(levels, np.random.default_rng(0))
    ]
    assert all(np.diff(lengths) < 0), lengths


def test_voice_and_word_factors_change_the_sound(sampler):
    words = SyntheticSpeechSampler(voices=["en-us+m3", "en-us+f2"], words=HVD_WORDS[:4], observation="word")
    rows = np.array([[0, 2, 1, 0], [1, 2, 1, 0], [0, 2, 1, 3]])
    base, other_voice, other_word = words.sample_observations_from_factors(rows, np.random.default_rng(0))
    assert not np.allclose(base, other_voice) and not np.allclose(base, other_word)


def test_bad_arguments_fail_early(sampler):
    with pytest.raises(ValueError, match="factor values"):
        sampler.sample_observations_from_factors(np.array([[0, 0, 3, 0]]), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        sampler.sample_observations_from_factors(np.zeros((2, 3), dtype=int), np.random.default_rng(0))
    with pytest.raises(ValueError, match="pitches"):
        SyntheticSpeechSampler(pitches=(50, 120))
    with pytest.raises(ValueError, match="observation"):
        SyntheticSpeechSampler(observation="sentence")
