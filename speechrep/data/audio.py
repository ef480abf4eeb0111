"""Audio I/O: every waveform enters speechrep here, as mono float32 at a requested rate.

Bad audio fails here with an :class:`~speechrep.data.errors.AudioError` that names the file:
missing, unreadable, empty, or holding NaN/inf samples. Multi-channel audio is averaged to
mono; other rates are resampled with soxr (high quality, deterministic).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from speechrep.data.errors import AudioError

DEFAULT_SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    num_frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.sample_rate


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Header information of an audio file, without reading the samples."""
    path = str(path)
    if not os.path.isfile(path):
        raise AudioError(f"audio file {path} does not exist")
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"audio file {path} cannot be read: {error}") from error
    return AudioInfo(path, int(info.samplerate), int(info.frames), int(info.channels))


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono float waveform (soxr "HQ"); a no-op when the rates agree."""
    if orig_rate == target_rate:
        return wave
    return soxr.resample(wave, orig_rate, target_rate, quality="HQ").astype(np.float32, copy=False)


def load_audio(
    path: str | os.PathLike,
    sample_rate: int | None = DEFAULT_SAMPLE_RATE,
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray:
    """Load ``path`` as mono float32, resampled to ``sample_rate`` (``None`` keeps the file's).

    ``start``/``end`` (seconds) read only that span of the file. Raises :class:`AudioError` for a
    missing, unreadable or empty file, non-finite samples, or a span outside the file.
    """
    info = audio_info(path)
    first = 0 if start is None else round(start * info.sample_rate)
    last = info.num_frames if end is None else round(end * info.sample_rate)
    if first < 0 or last > info.num_frames or first >= last:
        raise AudioError(
            f"audio file {path}: span [{start}, {end}]s is outside the audio "
            f"(0 to {info.duration:.3f}s) or empty"
        )
    try:
        data, file_rate = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"audio file {path} cannot be read: {error}") from error
    if data.shape[0] == 0:
        raise AudioError(f"audio file {path} is empty (0 samples)")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(wave).all():
        bad = int((~np.isfinite(wave)).sum())
        raise AudioError(f"audio file {path} holds {bad} non-finite (NaN/inf) samples")
    if sample_rate is not None:
        wave = resample(wave, int(file_rate), sample_rate)
    return np.ascontiguousarray(wave, dtype=np.float32)


def save_audio(path: str | os.PathLike, wave: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write a mono waveform atomically (``.wav`` or ``.flac`` by suffix), clipping to [-1, 1]."""
    from speechrep.utils.io import atomic_open

    path = Path(path)
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise AudioError(f"cannot write {path}: expected a non-empty mono waveform, got shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise AudioError(f"cannot write {path}: waveform holds non-finite samples")
    audio_format = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if audio_format is None:
        raise AudioError(f"cannot write {path}: unsupported suffix (use .wav or .flac)")
    with atomic_open(path, "wb") as handle:
        sf.write(handle, np.clip(wave, -1.0, 1.0), sample_rate, subtype=subtype, format=audio_format)
    return path
