"""Spectral peak detection and the frequency bands around the peaks (DecVAE's filter decomposition).

The DecVAE reference (Ziogas et al., 2026) finds a frame's resonances as follows, and so do we:

1. Welch PSD of the mean-removed signal (Hann window of 132 samples, 10 overlapping, 512-point FFT:
   31.25 Hz bins at 16 kHz), divided by its maximum.
2. The band ``[lower_hz, upper_hz]`` is cut into ``n_intervals`` detection intervals with edges
   ``lower + (upper − lower) · (v^p − 1) / ((n+1)^p − 1)``, ``v = 1 … n+1`` (power law ``p = 1.7``:
   narrow at low frequencies, where formants are dense): [50, 686], [686, 1598], … [5717, 7500] Hz.
3. In each interval whose maximum reaches ``min_level``: local maxima at least ``min_distance_hz``
   apart; those with a prominence of at least ``min_prominence`` × the interval's largest; the
   ``peaks_per_interval`` most prominent.
4. Each peak gets a band of ``± bandwidth_hz / 2``; peaks closer than
   ``bandwidth_hz / 2 + min_distance_hz`` share one band (from the lower band's start to the upper
   band's end). Bands are clipped to ``(edge_margin_hz, nyquist − edge_margin_hz)``.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np
import scipy.signal


@dataclass(frozen=True)
class PeakSettings:
    """Settings of :func:`detect_bands` (defaults: the DecVAE reference)."""

    nperseg: int = 132
    noverlap: int = 10
    nfft: int = 512
    lower_hz: float = 50.0
    upper_hz: float = 7500.0
    n_intervals: int = 6
    power_law: float = 1.7
    min_level: float = 0.01
    min_distance_hz: float = 300.0
    min_prominence: float = 0.01
    peaks_per_interval: int = 2
    bandwidth_hz: float = 500.0
    edge_margin_hz: float = 20.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def detection_intervals(settings: PeakSettings) -> np.ndarray:
    """``(n_intervals, 2)`` interval edges in Hz (power-law spacing, see the module docstring)."""
    v = np.arange(1, settings.n_intervals + 2, dtype=np.float64) ** settings.power_law
    edges = settings.lower_hz + (settings.upper_hz - settings.lower_hz) * (v - v[0]) / (v[-1] - v[0])
    return np.stack([edges[:-1], edges[1:]], axis=1)


def normalised_psd(x: np.ndarray, sample_rate: int, settings: PeakSettings) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of each mean-removed row of ``x`` ``(B, T)``, divided by its maximum: ``(freqs, (B, F))``."""
    nperseg = min(settings.nperseg, x.shape[-1])
    freqs, psd = scipy.signal.welch(
        x - x.mean(-1, keepdims=True),
        fs=sample_rate,
        window="hann",
        nperseg=nperseg,
        noverlap=min(settings.noverlap, nperseg - 1),
        nfft=max(settings.nfft, nperseg),
        axis=-1,
    )
    peak = psd.max(-1, keepdims=True)
    return freqs, np.divide(psd, peak, out=np.zeros_like(psd), where=peak > 0)


def detect_bands(x: np.ndarray, sample_rate: int, settings: PeakSettings | None = None) -> list[np.ndarray]:
    """Per row of ``x`` ``(B, T)``: a ``(n_bands, 2)`` array of band edges in Hz, ascending."""
    settings = settings or PeakSettings()
    freqs, psd = normalised_psd(np.atleast_2d(x), sample_rate, settings)
    df = freqs[1] - freqs[0]
    intervals = np.ceil(detection_intervals(settings) / df).astype(int)
    distance = max(1, round(settings.min_distance_hz / df))
    nyquist = sample_rate / 2
    return [_bands(row, freqs, intervals, distance, settings, nyquist) for row in psd]


def _bands(
    psd: np.ndarray,
    freqs: np.ndarray,
    intervals: np.ndarray,
    distance: int,
    settings: PeakSettings,
    nyquist: float,
) -> np.ndarray:
    peaks: list[int] = []
    for start, stop in intervals:
        chunk = psd[start:stop]
        if chunk.size == 0 or chunk.max() < settings.min_level:
            continue
        local, _ = scipy.signal.find_peaks(chunk, distance=distance)
        if local.size == 0:
            continue
        prominence = scipy.signal.peak_prominences(chunk, local)[0]
        keep = prominence >= settings.min_prominence * prominence.max()
        local, prominence = local[keep], prominence[keep]
        top = local[np.argsort(prominence, kind="stable")[::-1][: settings.peaks_per_interval]]
        peaks.extend(int(p) + int(start) for p in top)
    if not peaks:
        return np.zeros((0, 2))
    centres = np.sort(freqs[np.unique(peaks)])
    half = settings.bandwidth_hz / 2
    merge_below = half + settings.min_distance_hz
    bands = [[centres[0] - half, centres[0] + half]]
    for previous, centre in itertools.pairwise(centres):
        if centre - previous < merge_below:
            bands[-1][1] = centre + half
        else:
            bands.append([centre - half, centre + half])
    edges = np.clip(np.asarray(bands), settings.edge_margin_hz, nyquist - settings.edge_margin_hz)
    return edges[edges[:, 1] > edges[:, 0]]
