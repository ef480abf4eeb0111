"""Traversal sets: observations in which exactly one SimVowels factor varies and the others are fixed.

A latent-response ("traversal") analysis encodes such a set and reads which latent dimensions follow the
varying factor. The three traversable factors are the vowel (over the vowel set), the vocal-tract
factor ``vt`` (over a grid, by default the reference's 60 values 0.705, 0.715, ..., 1.295) and F0 (over
``settings.f0_levels``). Observations are whole segments or their centred frame (the filter is in its
steady state there). Noise follows ``settings.snr_db``; ``repeats`` draws several noise realisations
per level, all from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from speechrep.data.simvowels.observations import DEFAULT_FRAME_LENGTH, check_observation, cut_frame
from speechrep.data.simvowels.synthesis import SimVowelsSettings, synthesize_segment
from speechrep.utils.io import atomic_open

#: The reference's vocal-tract traversal grid: 60 values from 0.705 to 1.295 in steps of 0.01.
REFERENCE_VT_GRID: tuple[float, ...] = tuple(round(0.705 + 0.01 * i, 3) for i in range(60))

TRAVERSABLE = ("vowel", "vt", "f0")


@dataclass(frozen=True)
class TraversalSet:
    """``audio`` (n, L) float32 and the factor values of every row; only ``varying`` changes."""

    varying: str
    audio: np.ndarray
    vowel: np.ndarray  # (n,) vowel indices
    vt: np.ndarray  # (n,) vocal-tract factors
    f0: np.ndarray  # (n,) Hz

    def save(self, path: str | os.PathLike) -> None:
        """Write an ``.npz`` (no pickles) atomically."""
        with atomic_open(path, "wb") as handle:
            np.savez(
                handle,
                varying=np.array(self.varying),
                audio=self.audio,
                vowel=self.vowel,
                vt=self.vt,
                f0=self.f0,
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> TraversalSet:
        with np.load(path, allow_pickle=False) as data:
            return cls(str(data["varying"]), data["audio"], data["vowel"], data["vt"], data["f0"])


def traversal_set(
    varying: str,
    settings: SimVowelsSettings | None = None,
    *,
    vowel: int = 0,
    vt: float = 1.0,
    f0: float | None = None,
    vt_grid: tuple[float, ...] = REFERENCE_VT_GRID,
    repeats: int = 1,
    observation: str = "frame",
    frame_length: int = DEFAULT_FRAME_LENGTH,
    seed: int = 0,
) -> TraversalSet:
    """Vary ``varying`` (``"vowel"``, ``"vt"`` or ``"f0"``) over its levels, the others fixed.

    The fixed values are ``vowel`` (an index), ``vt`` and ``f0`` (Hz; ``None``: the first F0 level).
    Rows run level by level, ``repeats`` noise draws each.
    """
    settings = settings or SimVowelsSettings()
    if varying not in TRAVERSABLE:
        raise ValueError(f"cannot traverse {varying!r}; choose from {TRAVERSABLE}")
    if repeats < 1:
        raise ValueError(f"repeats must be positive, got {repeats}")
    check_observation(observation, frame_length, settings.segment_samples)
    base = {"vowel": vowel, "vt": vt, "f0": settings.f0_levels[0] if f0 is None else f0}
    levels = {"vowel": range(len(settings.vowels)), "vt": vt_grid, "f0": settings.f0_levels}[varying]
    rows = [{**base, varying: level} for level in levels for _ in range(repeats)]
    rng = np.random.default_rng(seed)
    audio = []
    for row in rows:
        segment = synthesize_segment(int(row["vowel"]), float(row["vt"]), float(row["f0"]), settings, rng)
        audio.append(cut_frame(segment, frame_length) if observation == "frame" else segment)
    return TraversalSet(
        varying,
        np.stack(audio).astype(np.float32),
        np.array([row["vowel"] for row in rows], dtype=np.int64),
        np.array([row["vt"] for row in rows], dtype=np.float64),
        np.array([row["f0"] for row in rows], dtype=np.float64),
    )
