"""DecVAE baselines: framing, frame features, the PCA / FastICA / kernel PCA pipelines and their tables."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from speechrep.data.simvowels import SimVowelsSampler
from speechrep.decvae.baselines import (
    FrameFeatures,
    evaluate_baselines,
    fit_baselines,
    frame_signal,
    make_baseline,
)
from speechrep.metrics.evaluate import FIXED_DATA_METRICS

FAST = {
    "dci": {"fast": True, "num_train": 150, "num_test": 90},
    "sap": {"num_train": 150, "num_test": 90},
    "modularity_explicitness": {"num_train": 150, "num_test": 90},
}


@pytest.fixture(scope="module")
def simvowels_frames() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fit frames of the training speakers, evaluation frames of the test speakers, their factors)."""
    rng = np.random.default_rng(0)
    train, test = SimVowelsSampler(split="train"), SimVowelsSampler(split="test")
    fit = train.sample_observations_from_factors(train.sample_factors(300, rng), rng)
    factors = test.sample_factors(600, rng)
    return fit, test.sample_observations_from_factors(factors, rng), factors


def test_frame_signal_follows_the_encoder_framing():
    wave = np.arange(64000, dtype=np.float32)
    frames = frame_signal(wave)
    assert frames.shape == (199, 400)
    assert frames[0, 0] == 0 and frames[1, 0] == 320 and frames[-1, -1] == 198 * 320 + 399
    assert frame_signal(np.arange(400.0)).shape == (1, 400)
    with pytest.raises(ValueError, match="shorter"):
        frame_signal(np.zeros(399))
    with pytest.raises(ValueError, match="1-D"):
        frame_signal(np.zeros((2, 400)))


def test_mel_features_peak_at_the_tone_and_differ_between_frames():
    t = np.arange(400) / 16000
    tones = np.stack([np.sin(2 * np.pi * f * t) for f in (300.0, 1000.0, 3000.0)])
    features = FrameFeatures("mel").fit(tones)
    mel = features.transform(tones)
    assert mel.shape == (3, 80) and features.n_fft_ == 512
    centres = librosa.mel_frequencies(n_mels=82, fmax=8000)[1:-1]  # the bands' centre frequencies
    for row, f in zip(mel, (300.0, 1000.0, 3000.0)):
        assert abs(centres[np.argmax(row)] - f) < 0.1 * f
    assert not np.allclose(mel[0], mel[1])  # every frame gets its own features (the reference's bug 2)
    assert np.array_equal(FrameFeatures("waveform").fit(tones).transform(tones), tones)


def test_frame_features_validate_their_input():
    with pytest.raises(NotFittedError):
        FrameFeatures().transform(np.zeros((2, 400)))
    with pytest.raises(ValueError, match="fitted on 400"):
        FrameFeatures().fit(np.ones((2, 400))).transform(np.ones((2, 300)))
    with pytest.raises(ValueError, match="feature kind"):
        FrameFeatures("cepstrum").fit(np.ones((2, 400)))
    with pytest.raises(ValueError, match="NaN"):
        FrameFeatures().fit(np.full((2, 400), np.nan))


def test_pipelines_have_the_reference_sizes(simvowels_frames):
    fit, frames, _ = simvowels_frames
    assert make_baseline("pca", "mel").fit(fit).transform(frames).shape == (600, 20)
    assert make_baseline("pca", "waveform").fit(fit).transform(frames).shape == (600, 50)
    assert make_baseline("raw", "mel").fit(fit).transform(frames).shape == (600, 80)
    kpca = make_baseline("kpca", "mel", n_components=6, max_fit_samples=100).fit(fit)
    assert kpca.named_steps["model"].estimator_.eigenvectors_.shape == (100, 6)  # fitted on a subsample
    assert kpca.transform(frames).shape == (600, 6)
    ica = make_baseline("ica", "mel", n_components=5).fit(fit).transform(fit)
    assert np.allclose(np.corrcoef(ica.T), np.eye(5), atol=1e-6)  # unit-variance whitened, uncorrelated
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("nmf")


def test_pca_on_mel_keeps_the_vowel_and_waveform_pca_does_not(simvowels_frames):
    """The contrast the paper reports: linear projections of mel frames separate the vowels, of raw
    waveform frames (arbitrary glottal phase) hardly."""
    fit, frames, factors = simvowels_frames
    fitted = fit_baselines(fit, frames, baselines=["pca"])  # 20 mel, 50 waveform components
    accuracy = {
        name: cross_val_score(LogisticRegression(max_iter=2000), codes, factors[:, 0], cv=3).mean()
        for name, (_, codes) in fitted.items()
    }
    assert accuracy["pca_mel"] > 0.7 and accuracy["pca_waveform"] < 0.4, accuracy  # chance: 0.2


def test_evaluate_baselines_gives_one_full_table_per_baseline(simvowels_frames):
    fit, frames, factors = simvowels_frames
    tables = evaluate_baselines(
        fit,
        frames,
        factors,
        baselines=["pca", "ica", "kpca"],
        features=["mel"],
        n_components={"mel": 6},
        options=FAST,
        seed=3,
    )
    assert list(tables) == ["pca_mel", "ica_mel", "kpca_mel"]
    for table in tables.values():
        assert {row.metric for row in table.rows} == set(FIXED_DATA_METRICS)
        assert table.num_codes == 6 and table.num_factors == 3 and table.seed == 3
        assert all(np.isfinite(value) for value in table.scores().values())
