"""Synthetic codes for the metric tests: perfect, entangled (rotated) and random, over discrete factors.

Factors are independent and uniform over ``LEVELS`` (a 5-level, a 10-level and a binary factor), so
conditioning equals intervening. Observations are the factor values themselves, and the encoders map
them to codes:

- perfect: dimension k holds factor k rescaled to [-1, 1] plus a little noise (sd 0.02); two more
  dimensions are pure noise (sd 0.1, above FactorVAE's prune threshold of 0.05);
- rotated: the perfect code times a fixed orthogonal matrix that spreads every factor evenly over
  four dimensions (see :func:`entangling_rotation`);
- random: standard normal noise of the same size, unrelated to the factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import special_ortho_group

LEVELS = (5, 10, 2)
NUM_NOISE_DIMS = 2
NUM_CODES = len(LEVELS) + NUM_NOISE_DIMS
KINDS = ("perfect", "rotated", "random")


class GridSampler:
    """Independent uniform factors with ``levels`` values each; observations are the factors."""

    def __init__(self, levels: tuple[int, ...] = LEVELS) -> None:
        self.levels = levels

    def sample_factors(self, num: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(0, level, num) for level in self.levels], axis=1)

    def sample_observations_from_factors(self, factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(factors, dtype=np.float64).copy()


def entangling_rotation(dim: int = NUM_CODES) -> np.ndarray:
    """Hadamard mixing of the first four dimensions (the factors and one noise dimension).

    Every output dimension takes a quarter of each factor's variance, so no dimension is about one
    factor: the maximally entangled counterpart of the perfect code (the rest stays as it is).
    """
    hadamard = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0
    rotation = np.eye(dim)
    rotation[:4, :4] = hadamard
    return rotation


class SyntheticEncoder:
    """Maps factor-valued observations to a perfect, rotated or random code (its own noise stream)."""

    def __init__(self, kind: str, levels: tuple[int, ...] = LEVELS, seed: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(kind)
        self.kind = kind
        self.levels = np.asarray(levels, dtype=np.float64)
        self.rng = np.random.default_rng(seed)
        self.rotation = entangling_rotation(len(levels) + NUM_NOISE_DIMS)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        n, k = len(observations), len(self.levels)
        if self.kind == "random":
            return self.rng.standard_normal((n, k + NUM_NOISE_DIMS))
        codes = np.empty((n, k + NUM_NOISE_DIMS))
        codes[:, :k] = observations / (self.levels - 1) * 2 - 1 + 0.02 * self.rng.standard_normal((n, k))
        codes[:, k:] = 0.1 * self.rng.standard_normal((n, NUM_NOISE_DIMS))
        return codes @ self.rotation if self.kind == "rotated" else codes


@dataclass(frozen=True)
class CodeSet:
    factors: np.ndarray  # (N, K)
    codes: dict[str, np.ndarray]  # kind -> (N, D)


def make_code_set(num: int, seed: int = 0) -> CodeSet:
    rng = np.random.default_rng(seed)
    factors = GridSampler().sample_factors(num, rng)
    codes = {kind: SyntheticEncoder(kind, seed=seed + 1)(factors.astype(np.float64)) for kind in KINDS}
    return CodeSet(factors, codes)


def mixing_rotation(dim: int = NUM_CODES) -> np.ndarray:
    """A fixed generic rotation: each factor spread unevenly over a few dimensions (partial entanglement)."""
    return special_ortho_group.rvs(dim, random_state=1)


@pytest.fixture(scope="session")
def metric_levels() -> tuple[int, ...]:
    return LEVELS


@pytest.fixture(scope="session")
def metric_code_set() -> CodeSet:
    """3,000 points of every kind of code over the same factors."""
    return make_code_set(3000)


@pytest.fixture(scope="session")
def metric_mixed_code(metric_code_set: CodeSet) -> tuple[np.ndarray, np.ndarray]:
    """(codes, factors): the perfect code under a generic rotation, a code with non-trivial structure."""
    return metric_code_set.codes["perfect"] @ mixing_rotation(), metric_code_set.factors


@pytest.fixture
def metric_sampler() -> GridSampler:
    return GridSampler()


@pytest.fixture
def metric_encoders() -> dict[str, SyntheticEncoder]:
    return {kind: SyntheticEncoder(kind, seed=7) for kind in KINDS}
