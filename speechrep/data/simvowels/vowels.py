"""Vowel inventories of SimVowels: formant frequencies and bandwidths of an adult reference speaker.

The formant frequencies (F1, F2, F3 in Hz) are those of the DecVAE reference simulator (Ziogas et al.,
"Variational decomposition autoencoding improves disentanglement of latent representations", 2026): its
five training vowels /a e I aw u/ in label order 0-4, and the eight-vowel set of its traversal script,
which appends /i ae y/. A speaker with vocal-tract factor ``vt`` has formants ``F_k / vt`` (a shorter
tract, ``vt < 1``, resonates higher).

Bandwidths: the reference band-passes noise over ``F_k / vt ± 100`` Hz and so has no bandwidths to copy.
Here every vowel uses 60, 90 and 120 Hz for B1, B2, B3 (the order of magnitude measured for adult
vowels, e.g. Hawks & Miller 1995), unscaled by ``vt``: bandwidths are dominated by wall and glottal
losses, which do not shrink with the tract length in this simple model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: B1, B2, B3 in Hz shared by every vowel (see the module docstring).
DEFAULT_BANDWIDTHS: tuple[float, float, float] = (60.0, 90.0, 120.0)

_FORMANTS: dict[str, tuple[float, float, float]] = {
    "a": (710.0, 1100.0, 2540.0),
    "e": (550.0, 1770.0, 2490.0),
    "I": (400.0, 1920.0, 2560.0),
    "aw": (590.0, 880.0, 2540.0),
    "u": (310.0, 870.0, 2250.0),
    "i": (280.0, 2250.0, 2890.0),
    "ae": (690.0, 1660.0, 2490.0),
    "y": (450.0, 1030.0, 2380.0),
}

#: The named inventories: label order is the factor value.
VOWEL_SETS: dict[str, tuple[str, ...]] = {
    "five": ("a", "e", "I", "aw", "u"),
    "eight": ("a", "e", "I", "aw", "u", "i", "ae", "y"),
}


@dataclass(frozen=True)
class Vowel:
    """One vowel of the reference speaker (``vt = 1``)."""

    symbol: str
    formants: tuple[float, ...]
    bandwidths: tuple[float, ...] = DEFAULT_BANDWIDTHS

    def scaled_formants(self, vt: float) -> np.ndarray:
        """The formants of a speaker with vocal-tract factor ``vt``: ``F_k / vt`` in Hz."""
        if not vt > 0:
            raise ValueError(f"the vocal-tract factor must be positive, got {vt}")
        return np.asarray(self.formants, dtype=np.float64) / vt


def vowel_inventory(name: str) -> tuple[Vowel, ...]:
    """The vowels of the set ``name`` (``"five"`` or ``"eight"``), in label order."""
    if name not in VOWEL_SETS:
        raise ValueError(f"unknown vowel set {name!r}; choose from {sorted(VOWEL_SETS)}")
    return tuple(Vowel(symbol, _FORMANTS[symbol]) for symbol in VOWEL_SETS[name])
