"""Shared pieces of the disentanglement metrics: discretisation, discrete MI, sampling, splits.

Array orientation: every function here takes **rows = points** (``codes`` is ``(N, D)``,
``factors`` is ``(N, K)``), the scikit-learn convention. disentanglement_lib stores the transpose
(``(D, N)`` and ``(K, N)``); the numbers are the same.

- :func:`histogram_discretize` is disentanglement_lib's default discretiser
  (``_histogram_discretize`` with ``num_bins = 20``): per code dimension, the ``num_bins + 1`` edges
  of ``np.histogram`` over that dimension's range, and ``np.digitize`` against all edges but the
  last, so every value lands in bin ``1 .. num_bins`` (the maximum goes to the last bin).
- :func:`discrete_mutual_info` is ``sklearn.metrics.mutual_info_score`` (natural log, nats, clipped
  at 0) for every (code, factor) pair, computed from contingency tables with ``np.bincount``.
- :func:`discrete_entropy` is H(y) in nats (disentanglement_lib computes it as I(y; y)).
- :class:`Sampler` is the interventional interface of disentanglement_lib's ``GroundTruthData``
  reduced to the two calls the metrics make, and :func:`generate_batch_factor_code` draws
  ``(codes, factors)`` pairs through an encoder, like the function of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: An encoder maps a batch of observations (whatever the sampler returns) to an ``(n, D)`` code array,
#: typically the posterior means. Torch tensors on the CPU are accepted (converted with ``np.asarray``).
Encoder = Callable[[Any], Any]


@runtime_checkable
class Sampler(Protocol):
    """A ground-truth generative process that can be intervened on.

    ``sample_factors(num, rng)`` returns ``(num, K)`` integer factor values drawn from the data's
    factor distribution; ``sample_observations_from_factors(factors, rng)`` returns observations
    (any batch type the encoder accepts) generated with exactly those factor values.
    """

    def sample_factors(self, num: int, rng: np.random.Generator) -> np.ndarray: ...

    def sample_observations_from_factors(self, factors: np.ndarray, rng: np.random.Generator) -> Any: ...


def as_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from a seed (or the Generator itself)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def encode(encoder: Encoder, observations: Any) -> np.ndarray:
    """Run ``encoder`` and return its codes as a float64 ``(n, D)`` array."""
    codes = encoder(observations)
    if hasattr(codes, "detach"):  # a torch tensor: leave the autograd graph and the device
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"the encoder must return an (n, D) array; got shape {codes.shape}")
    return codes


def sample_factors(sampler: Sampler, num: int, rng: np.random.Generator) -> np.ndarray:
    """``sampler.sample_factors`` with its contract checked: a ``(num, K)`` integer array (a copy)."""
    factors = np.array(sampler.sample_factors(num, rng))
    if factors.ndim != 2 or len(factors) != num:
        raise ValueError(f"sample_factors({num}) must return a ({num}, K) array; got {factors.shape}")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"sample_factors must return integer factor values; got dtype {factors.dtype}")
    return factors


def generate_batch_factor_code(
    encoder: Encoder,
    sampler: Sampler,
    num_points: int,
    rng: np.random.Generator,
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``num_points`` factor vectors, generate observations and encode them in batches.

    Returns ``(codes (num_points, D) float64, factors (num_points, K) int)``. disentanglement_lib's
    function of the same name returns the transposes.
    """
    if num_points < 1 or batch_size < 1:
        raise ValueError("num_points and batch_size must be positive")
    codes: list[np.ndarray] = []
    factors: list[np.ndarray] = []
    done = 0
    while done < num_points:
        n = min(batch_size, num_points - done)
        batch_factors = sample_factors(sampler, n, rng)
        observations = sampler.sample_observations_from_factors(batch_factors, rng)
        batch_codes = encode(encoder, observations)
        if len(batch_codes) != n:
            raise ValueError(f"the encoder returned {len(batch_codes)} codes for {n} observations")
        codes.append(batch_codes)
        factors.append(batch_factors)
        done += n
    return np.concatenate(codes), np.concatenate(factors)


def check_codes_factors(codes: Any, factors: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert ``codes`` (N, D) to float64 and ``factors`` (N,) or (N, K) to (N, K)."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if codes.ndim != 2 or factors.ndim != 2:
        raise ValueError(f"codes must be (N, D) and factors (N, K); got {codes.shape} and {factors.shape}")
    if len(codes) != len(factors):
        raise ValueError(f"codes and factors disagree on N: {len(codes)} != {len(factors)}")
    if len(codes) < 2:
        raise ValueError("need at least two points")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or infinite values")
    return codes, factors


def histogram_discretize(values: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Per column: bin index 1..num_bins of each value in equal-width bins over the column's range.

    Exactly disentanglement_lib's ``_histogram_discretize``:
    ``np.digitize(x, np.histogram(x, num_bins)[1][:-1])`` column by column. A constant column
    lands in a single bin.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected an (N, D) array; got shape {values.shape}")
    if num_bins < 1:
        raise ValueError("num_bins must be positive")
    out = np.zeros(values.shape, dtype=np.int64)
    for i in range(values.shape[1]):
        edges = np.histogram(values[:, i], num_bins)[1]
        out[:, i] = np.digitize(values[:, i], edges[:-1])
    return out


def _label_codes(column: np.ndarray) -> tuple[np.ndarray, int]:
    uniques, inverse = np.unique(column, return_inverse=True)
    return inverse.reshape(-1), len(uniques)


def mutual_info_from_contingency(counts: np.ndarray) -> float:
    """I(X; Y) in nats from a joint count table (clipped at 0, like ``mutual_info_score``)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("empty contingency table")
    joint = counts / total
    px = joint.sum(axis=1, keepdims=True)
    py = joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    mi = np.sum(joint[nz] * (np.log(joint[nz]) - np.log((px * py)[nz])))
    return max(float(mi), 0.0)


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(A, B)`` matrix of I(a_i; b_j) in nats between the discrete columns of ``a`` and ``b``.

    ``a`` is ``(N, A)`` and ``b`` is ``(N, B)`` (1-D inputs are single columns); values are any
    hashable labels. Equals ``sklearn.metrics.mutual_info_score(b[:, j], a[:, i])`` entry by entry.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    if len(a) != len(b):
        raise ValueError(f"inputs disagree on N: {len(a)} != {len(b)}")
    a_codes = [_label_codes(a[:, i]) for i in range(a.shape[1])]
    b_codes = [_label_codes(b[:, j]) for j in range(b.shape[1])]
    out = np.zeros((a.shape[1], b.shape[1]))
    for i, (ai, na) in enumerate(a_codes):
        for j, (bj, nb) in enumerate(b_codes):
            counts = np.bincount(ai * nb + bj, minlength=na * nb).reshape(na, nb)
            out[i, j] = mutual_info_from_contingency(counts)
    return out


def discrete_entropy(values: np.ndarray) -> np.ndarray:
    """H of each discrete column of ``values`` ((N,) or (N, K)) in nats."""
    values = np.asarray(values)
    values = values[:, None] if values.ndim == 1 else values
    out = np.zeros(values.shape[1])
    for j in range(values.shape[1]):
        counts, _ = _label_codes(values[:, j])
        p = np.bincount(counts) / len(counts)
        out[j] = float(-np.sum(p * np.log(p)))
    return out


def subsample(num_rows: int, num: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``min(num, num_rows)`` rows drawn without replacement (all rows when ``num`` is None)."""
    if num is not None and num < 1:
        raise ValueError("the number of points must be positive")
    order = rng.permutation(num_rows)
    return order if num is None else order[:num]


def split_train_test(
    num_rows: int,
    num_train: int,
    num_test: int,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint train/test row indices of (at most) ``num_train`` and ``num_test`` rows.

    disentanglement_lib draws the train and test sets independently from the generative process.
    On a fixed data set we draw them without replacement from its rows instead. With fewer rows
    than ``num_train + num_test``, both sets shrink in proportion (train rounded up). With
    ``groups`` (e.g. an utterance id per frame), whole groups go to one side, so frames of one
    utterance never sit in both; each side is then subsampled to its size.
    """
    if num_train < 1 or num_test < 1:
        raise ValueError("num_train and num_test must be positive")
    wanted = num_train + num_test
    scale = min(1.0, num_rows / wanted)
    train_target = max(1, int(np.ceil(num_train * scale)))
    test_target = max(1, min(num_test, num_rows - train_target))
    if train_target + test_target > num_rows:
        raise ValueError(f"need at least two rows for a train/test split; got {num_rows}")
    if groups is None:
        order = rng.permutation(num_rows)
        return order[:train_target], order[train_target : train_target + test_target]
    groups = np.asarray(groups)
    if len(groups) != num_rows:
        raise ValueError(f"groups has {len(groups)} entries for {num_rows} rows")
    group_ids, inverse = np.unique(groups, return_inverse=True)
    if len(group_ids) < 2:
        raise ValueError("a grouped split needs at least two groups")
    inverse = inverse.reshape(-1)
    sizes = np.bincount(inverse)
    order = rng.permutation(len(group_ids))
    before = np.concatenate([[0], np.cumsum(sizes[order])[:-1]])
    # Train takes groups until it holds its share of the rows, test the next ones; at least one each.
    train_share = round(num_rows * num_train / wanted)
    n_train_groups = int(np.clip(np.sum(before < train_share), 1, len(group_ids) - 1))
    train_groups = order[:n_train_groups]
    test_groups = order[n_train_groups:]
    train_rows = np.flatnonzero(np.isin(inverse, train_groups))
    test_rows = np.flatnonzero(np.isin(inverse, test_groups))
    train_rows = rng.permutation(train_rows)[:num_train]
    test_rows = rng.permutation(test_rows)[:num_test]
    return train_rows, test_rows
