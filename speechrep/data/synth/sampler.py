"""An interventional sampler over the espeak-ng synthetic speech corpus, for the metric suite.

It implements the :class:`~speechrep.metrics.utils.Sampler` protocol of :mod:`speechrep.metrics`
with the corpus's speaker factors plus the spoken word, each an index into a list of levels:

- ``voice``: espeak-ng voice variant (timbre: formant scaling, voice quality), ``voices``;
- ``pitch``: base pitch on espeak-ng's 0-100 scale, ``pitches``;
- ``rate``: speaking rate in words per minute, ``rates``;
- ``word``: the word spoken, ``words``; by default the ten /hVd/ words of Peterson & Barney ("Control
  methods used in a study of the vowels", JASA 1952), so the word factor is the vowel in a fixed
  consonant frame, the natural counterpart of the SimVowels vowel.

Observations (``observation``): ``"word"`` returns the word's waveform from its first sample, zero-padded
or cut to ``word_samples``, which keeps the duration (and so the rate) visible; ``"frame"`` (default)
returns ``frame_length`` samples centred on a uniformly drawn point of the middle half of the word's
longest phone (its vowel in an /hVd/ word), the frame-level view that baselines and frame encoders take.
Both are float32 at ``sample_rate``.

Determinism: espeak-ng's audio is a pure function of (text, voice, pitch, rate, seed) (see
:class:`~speechrep.data.synth.espeak.EspeakSynthesizer`), the synthesis seed is fixed, and resampling
is deterministic, so the only randomness is the frame position, drawn from the ``random_state`` the
metric passes. Syntheses are cached (``cache_size`` words), since metrics revisit the same factors.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from speechrep.data.audio import resample
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import SILENCE_LABELS
from speechrep.data.synth.corpus import DEFAULT_VOICES
from speechrep.data.synth.espeak import PITCH_LIMITS, RATE_LIMITS, EspeakSynthesizer

#: Peterson & Barney's /hVd/ words: one word per American English monophthong.
HVD_WORDS: tuple[str, ...] = ("heed", "hid", "head", "had", "hod", "hawed", "hood", "who'd", "hud", "heard")

OBSERVATIONS = ("frame", "word")


class SyntheticSpeechSampler:
    """Draw (voice, pitch, rate, word) factors and synthesise observations for them (module docstring)."""

    factor_names: tuple[str, ...] = ("voice", "pitch", "rate", "word")

    def __init__(
        self,
        voices: Sequence[str] | None = None,
        pitches: Sequence[int] = (20, 35, 50, 65, 80),
        rates: Sequence[int] = (130, 180, 230),
        words: Sequence[str] = HVD_WORDS,
        sample_rate: int = 16_000,
        observation: str = "frame",
        frame_length: int = 400,
        word_samples: int = 12_000,
        cache_size: int = 4096,
    ) -> None:
        self.voices = tuple(voices) if voices is not None else DEFAULT_VOICES
        self.pitches = tuple(int(p) for p in pitches)
        self.rates = tuple(int(r) for r in rates)
        self.words = tuple(str(w) for w in words)
        for name, values, limits in (
            ("pitches", self.pitches, PITCH_LIMITS),
            ("rates", self.rates, RATE_LIMITS),
        ):
            if (
                not values
                or len(set(values)) != len(values)
                or not all(limits[0] <= v <= limits[1] for v in values)
            ):
                raise ValueError(f"{name} must be distinct values in {limits[0]}..{limits[1]}, got {values}")
        for name, values in (("voices", self.voices), ("words", self.words)):
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{name} must be distinct and non-empty, got {values}")
        if observation not in OBSERVATIONS:
            raise ValueError(f"unknown observation {observation!r}; choose from {OBSERVATIONS}")
        if frame_length < 1 or word_samples < 1:
            raise ValueError("frame_length and word_samples must be positive")
        self.sample_rate = sample_rate
        self.observation = observation
        self.frame_length = frame_length
        self.word_samples = word_samples
        self._speak = functools.lru_cache(maxsize=cache_size)(self._synthesize)

    def __repr__(self) -> str:
        return f"SyntheticSpeechSampler(observation={self.observation!r}, factor_sizes={self.factor_sizes})"

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """Number of values of each factor."""
        return (len(self.voices), len(self.pitches), len(self.rates), len(self.words))

    def sample_factors(self, num: int, random_state: np.random.Generator) -> np.ndarray:
        """``(num, 4)`` int64 factor values, each factor uniform and independent of the others."""
        return np.stack([random_state.integers(size, size=num) for size in self.factor_sizes], axis=1)

    def sample_observations_from_factors(
        self, factors: np.ndarray, random_state: np.random.Generator
    ) -> np.ndarray:
        """float32 observations (``(n, frame_length)`` or ``(n, word_samples)``) with these factor values."""
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != len(self.factor_names):
            raise ValueError(f"factors must be (n, 4) {self.factor_names}; got shape {factors.shape}")
        if np.any(factors < 0) or np.any(factors >= np.array(self.factor_sizes)):
            raise ValueError(f"factor values must lie in [0, {self.factor_sizes}) per column")
        out = []
        for voice, pitch, rate, word in factors.tolist():
            wave, (start, end) = self._speak(word, voice, pitch, rate)
            out.append(self._window(wave, start, end, random_state))
        return np.stack(out)

    def _synthesize(self, word: int, voice: int, pitch: int, rate: int) -> tuple[np.ndarray, tuple[int, int]]:
        """The word at ``sample_rate`` and the span (samples) of its longest non-silence phone."""
        synthesis = EspeakSynthesizer().synthesize(
            self.words[word], self.voices[voice], self.pitches[pitch], self.rates[rate], seed=0
        )
        spans = [
            (end - start, start, end)
            for label, start, end in synthesis.phone_spans()
            if label not in SILENCE_LABELS
        ]
        if not spans:
            raise CorpusError(f"espeak-ng spoke no phones for {self.words[word]!r}")
        _, start, end = max(spans)
        scale = self.sample_rate / synthesis.sample_rate
        wave = resample(synthesis.audio, synthesis.sample_rate, self.sample_rate).astype(np.float32)
        wave.setflags(write=False)  # cached and shared between calls
        return wave, (round(start * scale), round(end * scale))

    def _window(self, wave: np.ndarray, start: int, end: int, rng: np.random.Generator) -> np.ndarray:
        size = self.word_samples if self.observation == "word" else self.frame_length
        if self.observation == "word":
            first = 0
        else:
            quarter = (end - start) / 4
            centre = int(rng.integers(round(start + quarter), round(end - quarter) + 1))
            first = centre - self.frame_length // 2
        out = np.zeros(size, dtype=np.float32)
        source = slice(max(first, 0), min(first + size, len(wave)))
        out[source.start - first : source.stop - first] = wave[source]
        return out
