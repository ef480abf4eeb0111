"""An interventional sampler over SimVowels, for the metrics that need one (β-VAE and FactorVAE scores).

It implements the :class:`~speechrep.metrics.utils.Sampler` protocol of :mod:`speechrep.metrics`:
``sample_factors(num, random_state)`` draws factor vectors uniformly from the factor grid and
``sample_observations_from_factors(factors, random_state)`` synthesises an observation for each. The
factors are the columns of :data:`~speechrep.data.simvowels.corpus.FACTOR_NAMES`:

- ``vowel``: index into ``settings.vowels``;
- ``speaker``: index into the speakers of ``split`` (``layout.speakers_of(split)``, increasing ``vt``);
  with a continuous layout every observation draws its ``vt`` inside that speaker's cell;
- ``f0``: index into ``settings.f0_levels``.

Observations (``observation``): ``"segment"`` returns whole vowel segments ``(n, segment_samples)``;
``"frame"`` (default) returns ``(n, frame_length)`` frames cut at a uniformly drawn offset inside a
segment, the way a frame of a framed utterance falls at an arbitrary point of the glottal cycle. Both are
float32 waveforms with the corpus's noise (``settings.snr_db``); an encoder maps them to codes (for
example a baseline pipeline of :mod:`speechrep.decvae.baselines`). A segment is the same function of its
factors as in the written corpus (:mod:`~speechrep.data.simvowels.synthesis`), so what is measured here
holds for the corpus.
"""

from __future__ import annotations

import numpy as np

from speechrep.data.simvowels.corpus import FACTOR_NAMES
from speechrep.data.simvowels.observations import DEFAULT_FRAME_LENGTH, check_observation, cut_frame
from speechrep.data.simvowels.speakers import SpeakerLayout
from speechrep.data.simvowels.synthesis import SimVowelsSettings, synthesize_segment


class SimVowelsSampler:
    """Draw SimVowels factors and synthesise observations for given factors (see the module docstring)."""

    factor_names: tuple[str, ...] = FACTOR_NAMES

    def __init__(
        self,
        settings: SimVowelsSettings | None = None,
        layout: SpeakerLayout | None = None,
        split: str = "train",
        observation: str = "frame",
        frame_length: int = DEFAULT_FRAME_LENGTH,
    ) -> None:
        self.settings = settings or SimVowelsSettings()
        self.layout = layout or SpeakerLayout()
        self.split = split
        self.speakers = self.layout.speakers_of(split)
        check_observation(observation, frame_length, self.settings.segment_samples)
        self.observation = observation
        self.frame_length = frame_length

    def __repr__(self) -> str:
        return (
            f"SimVowelsSampler(split={self.split!r}, observation={self.observation!r}, "
            f"factor_sizes={self.factor_sizes})"
        )

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """Number of values of each factor."""
        return (len(self.settings.vowels), len(self.speakers), len(self.settings.f0_levels))

    def sample_factors(self, num: int, random_state: np.random.Generator) -> np.ndarray:
        """``(num, 3)`` int64 factor values, each factor uniform and independent of the others."""
        columns = [random_state.integers(size, size=num) for size in self.factor_sizes]
        return np.stack(columns, axis=1).astype(np.int64)

    def sample_observations_from_factors(
        self, factors: np.ndarray, random_state: np.random.Generator
    ) -> np.ndarray:
        """float32 observations with exactly these factor values, one row per factor vector."""
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != len(FACTOR_NAMES):
            raise ValueError(
                f"factors must be (n, {len(FACTOR_NAMES)}) {FACTOR_NAMES}; got shape {factors.shape}"
            )
        sizes = np.array(self.factor_sizes)
        if np.any(factors < 0) or np.any(factors >= sizes):
            raise ValueError(f"factor values must lie in [0, {tuple(sizes)}) per column")
        out = []
        for vowel, speaker, f0 in factors.tolist():
            vt = self.layout.vt_of(self.speakers[speaker], random_state)
            segment = synthesize_segment(vowel, vt, self.settings.f0_levels[f0], self.settings, random_state)
            if self.observation == "frame":
                offset = int(random_state.integers(len(segment) - self.frame_length + 1))
                segment = cut_frame(segment, self.frame_length, offset)
            out.append(segment)
        return np.stack(out).astype(np.float32)
