"""Source-filter synthesis of one SimVowels segment: glottal pulses -> formant resonators -> noise.

One segment of vowel ``v`` spoken by a speaker with vocal-tract factor ``vt`` at fundamental ``F0``:

1. excitation: Rosenberg flow-derivative pulses at ``F0`` (:mod:`~speechrep.data.simvowels.source`);
2. vocal tract: a cascade of second-order digital resonators (Klatt, "Software for a cascade/parallel
   formant synthesizer", JASA 1980), one per formant, at ``F_k / vt`` with bandwidth ``B_k``. With
   ``T = 1 / fs``: ``C = -exp(-2 pi B T)``, ``B' = 2 exp(-pi B T) cos(2 pi F T)``, ``A = 1 - B' - C``,
   ``y[n] = A x[n] + B' y[n-1] + C y[n-2]`` (unit gain at 0 Hz, a spectral peak at ``F``);
3. level: the clean segment is scaled to the RMS ``level_rms``, so loudness carries no factor (a higher
   F0 puts more pulses into a segment and would otherwise be louder);
4. noise: white Gaussian noise rescaled so that its *realised* power gives exactly ``snr_db``:
   ``SNR = 10 log10(P_signal / P_noise)`` per segment, hence also per utterance (every segment has the
   same signal power and the same noise power).

Every segment starts at the opening of a glottal pulse with zero filter memory, so a segment depends
only on its own factors and the noise: the corpus, the traversal set and the interventional sampler
produce the same segment for the same factors and the same noise draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.signal

from speechrep.data.simvowels.source import DEFAULT_CLOSING, DEFAULT_OPENING, glottal_pulse_train
from speechrep.data.simvowels.vowels import Vowel, vowel_inventory


@dataclass(frozen=True)
class SimVowelsSettings:
    """How every SimVowels segment is made (the speakers are a :class:`SpeakerLayout`).

    Attributes:
        sample_rate: Hz.
        segment_duration: seconds per vowel segment (the reference: 0.1 s, 1600 samples).
        segments_per_utterance: segments per utterance (the reference: 40, i.e. 4 s).
        vowel_set: ``"five"`` or ``"eight"`` (:data:`~speechrep.data.simvowels.vowels.VOWEL_SETS`).
        f0_levels: the F0 values in Hz a segment can take; its factor value is the index here.
        snr_db: signal-to-noise ratio of the additive white noise; ``None``: no noise.
        level_rms: RMS of the clean segment (0.05 leaves room below full scale for the pulse peaks).
        opening, closing: the Rosenberg pulse shape (fractions of the period).
    """

    sample_rate: int = 16_000
    segment_duration: float = 0.1
    segments_per_utterance: int = 40
    vowel_set: str = "five"
    f0_levels: tuple[float, ...] = (100.0, 120.0, 140.0, 160.0, 180.0, 200.0)
    snr_db: float | None = 15.0
    level_rms: float = 0.05
    opening: float = DEFAULT_OPENING
    closing: float = DEFAULT_CLOSING
    vowels: tuple[Vowel, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "f0_levels", tuple(float(f) for f in self.f0_levels))
        object.__setattr__(self, "vowels", vowel_inventory(self.vowel_set))
        if self.segment_samples < 1 or self.segments_per_utterance < 1:
            raise ValueError("segment_duration and segments_per_utterance must give at least one sample")
        if not self.f0_levels or len(set(self.f0_levels)) != len(self.f0_levels):
            raise ValueError(f"f0_levels must be distinct and non-empty, got {self.f0_levels}")
        if not 0 < self.level_rms < 1:
            raise ValueError(f"level_rms must lie in (0, 1), got {self.level_rms}")

    @property
    def segment_samples(self) -> int:
        return round(self.segment_duration * self.sample_rate)

    @property
    def utterance_samples(self) -> int:
        return self.segment_samples * self.segments_per_utterance


def resonator_coefficients(
    frequency: float, bandwidth: float, sample_rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(b, a)`` of Klatt's second-order resonator at ``frequency`` with ``bandwidth`` (Hz)."""
    if not 0 < frequency < sample_rate / 2 or bandwidth <= 0:
        raise ValueError(
            f"a resonator needs 0 < F < {sample_rate / 2} Hz and B > 0; got F={frequency:.1f}, B={bandwidth}"
        )
    t = 1.0 / sample_rate
    c = -np.exp(-2 * np.pi * bandwidth * t)
    b = 2 * np.exp(-np.pi * bandwidth * t) * np.cos(2 * np.pi * frequency * t)
    return np.array([1.0 - b - c]), np.array([1.0, -b, -c])


def vocal_tract_filter(
    excitation: np.ndarray, formants: Sequence[float], bandwidths: Sequence[float], sample_rate: int
) -> np.ndarray:
    """The excitation through the resonator cascade (zero initial state)."""
    out = np.asarray(excitation, dtype=np.float64)
    for frequency, bandwidth in zip(formants, bandwidths, strict=True):
        out = scipy.signal.lfilter(*resonator_coefficients(frequency, bandwidth, sample_rate), out)
    return out


def clean_segment(vowel: int, vt: float, f0: float, settings: SimVowelsSettings) -> np.ndarray:
    """The noise-free segment (float64, RMS ``level_rms``) of vowel index ``vowel`` at ``vt``, ``f0``."""
    if not 0 <= vowel < len(settings.vowels):
        raise ValueError(f"vowel index {vowel} is outside the {settings.vowel_set!r} set")
    spec = settings.vowels[vowel]
    pulses = glottal_pulse_train(
        f0, settings.segment_samples, settings.sample_rate, settings.opening, settings.closing
    )
    voiced = vocal_tract_filter(pulses, spec.scaled_formants(vt), spec.bandwidths, settings.sample_rate)
    return voiced * (settings.level_rms / np.sqrt(np.mean(voiced**2)))


def add_noise(clean: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    """``clean`` plus white Gaussian noise whose realised power gives exactly ``snr_db`` (``None``: none)."""
    if snr_db is None:
        return clean
    noise = rng.standard_normal(clean.shape)
    target = np.mean(clean**2) / 10 ** (snr_db / 10)
    return clean + noise * np.sqrt(target / np.mean(noise**2))


def synthesize_segment(
    vowel: int, vt: float, f0: float, settings: SimVowelsSettings, rng: np.random.Generator
) -> np.ndarray:
    """One noisy segment (float64): :func:`clean_segment` + :func:`add_noise` at ``settings.snr_db``."""
    return add_noise(clean_segment(vowel, vt, f0, settings), settings.snr_db, rng)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """The SNR of ``noisy`` against its clean part: ``10 log10(sum clean^2 / sum (noisy - clean)^2)``."""
    clean = np.asarray(clean, dtype=np.float64)
    return float(10 * np.log10(np.sum(clean**2) / np.sum((np.asarray(noisy, dtype=np.float64) - clean) ** 2)))
