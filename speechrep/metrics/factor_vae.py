"""FactorVAE score (interventional).

Kim & Mnih, "Disentangling by Factorising", ICML 2018.

Estimate each code dimension's global variance s_j^2 from ``num_variance_estimate`` points and drop
collapsed dimensions (s_j < ``prune_threshold``). One vote: pick a factor k uniformly at random, draw a
batch of ``batch_size`` factor vectors that all share factor k's value, encode the observations, and
vote for the pair (k, j*) with

    j* = argmin_j  Var_batch(z_j) / s_j^2        over the active dimensions.

A majority-vote classifier maps each dimension j to the factor with most training votes in column j;
the score is the fraction of votes it gets right, on ``num_eval`` fresh votes (``eval_accuracy``, the
number reported in papers) and on the training votes. Chance is about 1/K for a code unrelated to the
factors (the training accuracy of such a code is biased upwards by the majority vote).

It needs interventions (a batch with one factor fixed), so it takes an encoder and a
:class:`~speechrep.metrics.utils.Sampler`. disentanglement_lib's defaults: ``batch_size = 64``,
``num_train = 10,000``, ``num_eval = 5,000``, ``num_variance_estimate = 10,000`` and
``prune_threshold = 0.05`` on the standard deviation (``prune_dims.threshold`` in the study's gin
configs); variances with ``ddof = 1``. If no dimension is active the score is 0.

Deviations from disentanglement_lib: ``num_active_dims`` is the number of active dimensions (the
library reports the length of the boolean mask, i.e. all dimensions, a bug), and votes are filed under
the dimension's own index (the library files them under its position among the active dimensions;
the accuracy is the same either way, but our vote matrix is readable). The factor to fix is drawn
after the batch of factors, which changes only the order in which random numbers are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speechrep.metrics.utils import (
    Encoder,
    Sampler,
    as_rng,
    encode,
    generate_batch_factor_code,
    sample_factors,
)


@dataclass(frozen=True)
class FactorVAEScore:
    train_accuracy: float
    eval_accuracy: float
    num_active_dims: int
    train_votes: np.ndarray = field(repr=False)  # (K, D) vote counts
    eval_votes: np.ndarray = field(repr=False)
    global_variances: np.ndarray = field(repr=False)  # (D,)
    num_train: int
    num_eval: int
    batch_size: int

    def as_dict(self) -> dict[str, float]:
        return {
            "train_accuracy": self.train_accuracy,
            "eval_accuracy": self.eval_accuracy,
            "num_active_dims": float(self.num_active_dims),
        }


def compute_factor_vae(
    encoder: Encoder,
    sampler: Sampler,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = 0.05,
    seed: int | np.random.Generator = 0,
) -> FactorVAEScore:
    """FactorVAE score of ``encoder`` on data from ``sampler``."""
    if batch_size < 2 or num_train < 1 or num_eval < 1 or num_variance_estimate < 2:
        raise ValueError("need batch_size >= 2, num_variance_estimate >= 2 and positive num_train/num_eval")
    rng = as_rng(seed)
    codes, factors = generate_batch_factor_code(encoder, sampler, num_variance_estimate, rng, batch_size=64)
    global_variances = np.var(codes, axis=0, ddof=1)
    active = prune_dims(global_variances, prune_threshold)
    num_factors, num_codes = factors.shape[1], codes.shape[1]
    if not active.any():
        empty = np.zeros((num_factors, num_codes), dtype=np.int64)
        return FactorVAEScore(0.0, 0.0, 0, empty, empty, global_variances, num_train, num_eval, batch_size)
    votes = [
        _generate_votes(encoder, sampler, batch_size, num, rng, global_variances, active, num_factors)
        for num in (num_train, num_eval)
    ]
    train_accuracy, eval_accuracy = _majority_vote_accuracy(*votes)
    return FactorVAEScore(
        train_accuracy=train_accuracy,
        eval_accuracy=eval_accuracy,
        num_active_dims=int(active.sum()),
        train_votes=votes[0],
        eval_votes=votes[1],
        global_variances=global_variances,
        num_train=num_train,
        num_eval=num_eval,
        batch_size=batch_size,
    )


def prune_dims(variances: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Mask of the dimensions whose standard deviation reaches ``threshold`` (not collapsed)."""
    return np.sqrt(np.asarray(variances, dtype=np.float64)) >= threshold


def _generate_votes(
    encoder: Encoder,
    sampler: Sampler,
    batch_size: int,
    num_points: int,
    rng: np.random.Generator,
    global_variances: np.ndarray,
    active: np.ndarray,
    num_factors: int,
) -> np.ndarray:
    votes = np.zeros((num_factors, len(global_variances)), dtype=np.int64)
    for _ in range(num_points):
        factors = sample_factors(sampler, batch_size, rng)
        if factors.shape[1] != num_factors:
            raise ValueError("the sampler changed its number of factors")
        index = int(rng.integers(num_factors))
        factors[:, index] = factors[0, index]
        codes = encode(encoder, sampler.sample_observations_from_factors(factors, rng))
        votes[index, _vote(codes, global_variances, active)] += 1
    return votes


def _vote(codes: np.ndarray, global_variances: np.ndarray, active: np.ndarray) -> int:
    """The active dimension (original index) with the smallest batch variance / global variance."""
    local = np.var(codes, axis=0, ddof=1)
    active_index = np.flatnonzero(active)
    return int(active_index[np.argmin(local[active] / global_variances[active])])


def _majority_vote_accuracy(train_votes: np.ndarray, eval_votes: np.ndarray) -> tuple[float, float]:
    """Accuracy of the per-dimension majority vote learnt on ``train_votes`` ((K, D) counts)."""
    classifier = np.argmax(train_votes, axis=0)
    columns = np.arange(train_votes.shape[1])
    train = float(np.sum(train_votes[classifier, columns]) / np.sum(train_votes))
    evaluation = float(np.sum(eval_votes[classifier, columns]) / np.sum(eval_votes))
    return train, evaluation
