"""Linear and kernel baselines of DecVAE: PCA, FastICA and kernel PCA on mel or waveform frames.

The DecVAE paper (Ziogas et al., 2026) compares its latents with classical unsupervised projections of
the model's own input frames (25 ms, 400 samples at 16 kHz): PCA, FastICA (unit-variance whitening) and
kernel PCA, each fitted on frames of the training data and applied to the evaluation frames, on 80-band
mel frames (20 components) or on the raw waveform frames (50 components). Here each baseline is a
scikit-learn :class:`~sklearn.pipeline.Pipeline`:

    FrameFeatures(kind)  ->  StandardScaler  ->  PCA | FastICA | KernelPCA

- :class:`FrameFeatures` maps ``(n, frame_length)`` waveform frames to features: the frames themselves
  (``"waveform"``) or their log-mel power ``10 log10(M |FFT(w x)|^2 + 1e-10)`` with a Hann window
  ``w`` and an ``n_mels`` Slaney mel filterbank ``M`` (``"mel"``), one vector per frame, as the
  reference's 80-d frame mel (``n_fft`` covering the frame, a single hop).
- The scaler puts every feature on unit variance, so that kernel PCA's RBF width (``gamma``, by default
  ``1 / n_features``) means the same for both feature kinds (the reference's fixed ``gamma = 0.1`` on
  unscaled dB values makes the kernel matrix nearly the identity).
- Kernel PCA costs O(n^2) memory and O(n^3) time in the number of fitted frames, so it is fitted on at
  most ``max_fit_samples`` frames drawn with the seed (the reference used a 1 % subsample); ``"raw"``
  stops after the scaler (the reference's "raw mel" row).

:func:`frame_signal` cuts utterances into frames with the encoders' framing (frame ``i`` covers samples
``[hop i, hop i + frame_length)``; 64000 samples give 199 frames), :func:`fit_baselines` fits every
requested baseline and encodes the evaluation frames, and :func:`evaluate_baselines` returns one
:class:`~speechrep.metrics.evaluate.MetricTable` per baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import librosa
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA, FastICA, KernelPCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from speechrep.metrics.evaluate import MetricTable, evaluate_representation

BASELINES = ("pca", "ica", "kpca", "raw")
FEATURE_KINDS = ("mel", "waveform")
#: The reference's numbers of components per feature kind.
DEFAULT_COMPONENTS = {"mel": 20, "waveform": 50}


def frame_signal(wave: np.ndarray, frame_length: int = 400, hop_length: int = 320) -> np.ndarray:
    """``(1 + (len - frame_length) // hop_length, frame_length)`` frames of a 1-D signal (a copy)."""
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {wave.shape}")
    if frame_length < 1 or hop_length < 1:
        raise ValueError("frame_length and hop_length must be positive")
    if len(wave) < frame_length:
        raise ValueError(f"a signal of {len(wave)} samples is shorter than one {frame_length}-sample frame")
    count = 1 + (len(wave) - frame_length) // hop_length
    starts = np.arange(count) * hop_length
    return wave[starts[:, None] + np.arange(frame_length)]


class FrameFeatures(TransformerMixin, BaseEstimator):
    """Features of waveform frames: the samples (``kind="waveform"``) or one log-mel vector per frame.

    Args:
        kind: ``"mel"`` or ``"waveform"``.
        sample_rate: Hz, for the mel filterbank.
        n_mels: mel bands.
        n_fft: FFT size; ``None``: the smallest power of two covering the frame.
    """

    def __init__(
        self, kind: str = "mel", sample_rate: int = 16_000, n_mels: int = 80, n_fft: int | None = None
    ):
        self.kind = kind
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.n_fft = n_fft

    def fit(self, X: np.ndarray, y: Any = None) -> FrameFeatures:
        X = _check_frames(X)
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}; choose from {FEATURE_KINDS}")
        self.n_features_in_ = X.shape[1]
        if self.kind == "mel":
            n_fft = self.n_fft or 1 << int(np.ceil(np.log2(X.shape[1])))
            if n_fft < X.shape[1]:
                raise ValueError(f"n_fft {n_fft} is shorter than the {X.shape[1]}-sample frames")
            self.n_fft_ = n_fft
            self.window_ = np.hanning(X.shape[1] + 2)[1:-1]  # symmetric Hann without its zero end points
            self.mel_basis_ = librosa.filters.mel(sr=self.sample_rate, n_fft=n_fft, n_mels=self.n_mels)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        X = _check_frames(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"frames of {X.shape[1]} samples; this was fitted on {self.n_features_in_}")
        if self.kind == "waveform":
            return X
        power = np.abs(np.fft.rfft(X * self.window_, n=self.n_fft_, axis=1)) ** 2
        return 10 * np.log10(power @ self.mel_basis_.T + 1e-10)


class SubsampledFit(TransformerMixin, BaseEstimator):
    """Fit ``estimator`` on at most ``max_samples`` rows drawn with ``random_state``; transform all rows."""

    def __init__(self, estimator: Any, max_samples: int | None = None, random_state: int = 0):
        self.estimator = estimator
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Any = None) -> SubsampledFit:
        X = np.asarray(X)
        if self.max_samples is not None and len(X) > self.max_samples:
            rows = np.random.default_rng(self.random_state).choice(len(X), self.max_samples, replace=False)
            X = X[np.sort(rows)]
        self.estimator_ = clone(self.estimator).fit(X)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.transform(X)


def make_baseline(
    name: str,
    features: str = "mel",
    n_components: int | None = None,
    seed: int = 0,
    *,
    sample_rate: int = 16_000,
    n_mels: int = 80,
    kernel: str = "rbf",
    gamma: float | None = None,
    max_fit_samples: int = 2000,
) -> Pipeline:
    """An unfitted baseline pipeline (module docstring); ``n_components=None``: the reference's number."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")
    steps: list[tuple[str, Any]] = [
        ("features", FrameFeatures(features, sample_rate=sample_rate, n_mels=n_mels)),
        ("scale", StandardScaler()),
    ]
    k = n_components if n_components is not None else DEFAULT_COMPONENTS.get(features)
    if name == "pca":
        steps.append(("model", PCA(n_components=k, random_state=seed)))
    elif name == "ica":
        steps.append(
            ("model", FastICA(n_components=k, whiten="unit-variance", max_iter=1000, random_state=seed))
        )
    elif name == "kpca":
        model = KernelPCA(n_components=k, kernel=kernel, gamma=gamma, random_state=seed)
        steps.append(("model", SubsampledFit(model, max_fit_samples, seed)))
    return Pipeline(steps)


def fit_baselines(
    fit_observations: np.ndarray,
    observations: np.ndarray,
    *,
    baselines: Iterable[str] = ("pca", "ica", "kpca"),
    features: Iterable[str] = FEATURE_KINDS,
    n_components: Mapping[str, int] | None = None,
    seed: int = 0,
    baseline_params: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Pipeline, np.ndarray]]:
    """Fit each baseline on ``fit_observations`` frames and encode ``observations`` with it.

    Returns ``{"<baseline>_<features>": (fitted pipeline, codes)}`` (e.g. ``"pca_mel"``) for every
    baseline and feature kind. ``n_components`` maps a feature kind to a number of components (default
    :data:`DEFAULT_COMPONENTS`); ``baseline_params`` go to :func:`make_baseline`.
    """
    components = {**DEFAULT_COMPONENTS, **(n_components or {})}
    fitted = {}
    for kind in features:
        for name in baselines:
            pipeline = make_baseline(name, kind, components.get(kind), seed, **(baseline_params or {}))
            fitted[f"{name}_{kind}"] = (pipeline, pipeline.fit(fit_observations).transform(observations))
    return fitted


def evaluate_baselines(
    fit_observations: np.ndarray,
    observations: np.ndarray,
    factors: np.ndarray,
    *,
    seed: int = 0,
    metrics: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    groups: np.ndarray | None = None,
    chance: bool = False,
    **baseline_settings: Any,
) -> dict[str, MetricTable]:
    """One :class:`~speechrep.metrics.evaluate.MetricTable` per baseline: ``{"pca_mel": table, ...}``.

    The baselines are fitted and applied by :func:`fit_baselines` (``baseline_settings``: its keyword
    arguments) and scored on ``factors`` by :func:`~speechrep.metrics.evaluate.evaluate_representation`
    (``metrics``, ``options``, ``groups`` and ``chance`` are passed on).
    """
    fitted = fit_baselines(fit_observations, observations, seed=seed, **baseline_settings)
    metrics = None if metrics is None else list(metrics)
    return {
        name: evaluate_representation(
            codes, factors, metrics, seed, options=options, groups=groups, chance=chance
        )
        for name, (_, codes) in fitted.items()
    }


def _check_frames(X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(f"expected (n, frame_length) frames, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("frames contain NaN or infinite values")
    return X
