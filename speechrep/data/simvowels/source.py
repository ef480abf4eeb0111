"""The voiced excitation of SimVowels: a train of Rosenberg glottal pulses at F0.

Rosenberg ("Effect of glottal pulse shape on the quality of natural vowels", JASA 1971), pulse C: over
one period, with ``tau`` the time since the opening in units of the period,

    g(tau) = (1 - cos(pi tau / Tp)) / 2          0 <= tau <= Tp          (opening)
    g(tau) = cos(pi (tau - Tp) / (2 Tn))         Tp < tau <= Tp + Tn     (closing)
    g(tau) = 0                                   Tp + Tn < tau < 1       (closed phase)

The excitation is the flow derivative ``g'`` (the usual folding of the lip radiation, a first
difference, into the source), evaluated analytically at every sample's phase ``frac(F0 n / fs)``.
So the period is exactly ``fs / F0`` even when that is not a whole number of samples, and the
abrupt closure (``g'`` jumps from its minimum to 0) is the strong excitation instant of each period.
This is what the reference simulator lacked: there, the "periodic excitation" filled every sample
with noise and F0 changed nothing.
"""

from __future__ import annotations

import numpy as np

#: Opening (Tp) and closing (Tn) durations as fractions of the period: a 56 % open quotient.
DEFAULT_OPENING = 0.40
DEFAULT_CLOSING = 0.16


def rosenberg_derivative(
    phase: np.ndarray, opening: float = DEFAULT_OPENING, closing: float = DEFAULT_CLOSING
) -> np.ndarray:
    """``g'(tau)`` of the Rosenberg pulse (per unit of period) at phases ``tau`` in [0, 1)."""
    if not (0 < opening and 0 < closing and opening + closing < 1):
        raise ValueError(f"need 0 < opening, closing and opening + closing < 1; got {opening}, {closing}")
    phase = np.asarray(phase, dtype=np.float64)
    out = np.zeros_like(phase)
    rising = phase <= opening
    falling = (phase > opening) & (phase <= opening + closing)
    out[rising] = np.pi / (2 * opening) * np.sin(np.pi * phase[rising] / opening)
    out[falling] = -np.pi / (2 * closing) * np.sin(np.pi * (phase[falling] - opening) / (2 * closing))
    return out


def glottal_pulse_train(
    f0: float,
    num_samples: int,
    sample_rate: int,
    opening: float = DEFAULT_OPENING,
    closing: float = DEFAULT_CLOSING,
) -> np.ndarray:
    """``num_samples`` of Rosenberg flow-derivative pulses at ``f0`` Hz, the first opening at sample 0."""
    if not 0 < f0 < sample_rate / 2:
        raise ValueError(f"F0 must lie in (0, {sample_rate / 2}) Hz, got {f0}")
    phase = np.mod(np.arange(num_samples) * (f0 / sample_rate), 1.0)
    return rosenberg_derivative(phase, opening, closing)
