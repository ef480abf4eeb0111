"""β-VAE score (interventional).

Higgins, Matthey, Pal, Burgess, Glorot, Botvinick, Mohamed & Lerchner, "β-VAE: Learning Basic Visual
Concepts with a Constrained Variational Framework", ICLR 2017.

One training point: pick a factor k uniformly at random, draw two batches of ``batch_size`` factor
vectors that agree on factor k only, generate observations from both, encode them, and take

    x = 1/B  sum_b | z(obs1_b) - z(obs2_b) |        (a D-vector; its label is k).

A linear classifier (``LogisticRegression``) is trained to predict k from x; the score is its accuracy
on ``num_eval`` fresh points (``eval_accuracy``, the number reported in papers) and on its own
training points. The dimension that encodes factor k alone has a small |difference|, which a linear
classifier finds easily; chance is 1/K.

It needs interventions (batches sharing one factor value), so it takes an encoder and a
:class:`~speechrep.metrics.utils.Sampler`. disentanglement_lib's defaults: ``batch_size = 64``,
``num_train = 10,000``, ``num_eval = 5,000``, ``LogisticRegression(random_state=...)`` with otherwise
default settings.

Note: the classifier is scikit-learn's current default (lbfgs, multinomial, 100 iterations); the
library's published runs used a 2019 scikit-learn whose default was liblinear one-vs-rest, so
values can differ slightly from published ones for codes that are hard to classify. Because the
classifier is linear on |differences|, the score is partly invariant to mixing the dimensions, so
entangled codes can still score high.

Deviations from disentanglement_lib: none in the definition. The factor to fix is drawn after the
first batch of factors (the number of factors is read off it), which changes only the order in which
random numbers are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from speechrep.metrics.utils import Encoder, Sampler, as_rng, encode, sample_factors


@dataclass(frozen=True)
class BetaVAEScore:
    train_accuracy: float
    eval_accuracy: float
    num_train: int
    num_eval: int
    batch_size: int

    def as_dict(self) -> dict[str, float]:
        return {"train_accuracy": self.train_accuracy, "eval_accuracy": self.eval_accuracy}


def compute_beta_vae(
    encoder: Encoder,
    sampler: Sampler,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    seed: int | np.random.Generator = 0,
) -> BetaVAEScore:
    """β-VAE score of ``encoder`` on data from ``sampler``."""
    if batch_size < 1 or num_train < 1 or num_eval < 1:
        raise ValueError("batch_size, num_train and num_eval must be positive")
    rng = as_rng(seed)
    train_points, train_labels = _generate_training_batch(encoder, sampler, batch_size, num_train, rng)
    eval_points, eval_labels = _generate_training_batch(encoder, sampler, batch_size, num_eval, rng)
    train_accuracy, eval_accuracy = _fit_and_score(
        train_points, train_labels, eval_points, eval_labels, random_state=int(rng.integers(2**31 - 1))
    )
    return BetaVAEScore(train_accuracy, eval_accuracy, num_train, num_eval, batch_size)


def _generate_training_batch(
    encoder: Encoder, sampler: Sampler, batch_size: int, num_points: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    points: np.ndarray | None = None
    labels = np.zeros(num_points, dtype=np.int64)
    for i in range(num_points):
        labels[i], feature = _generate_training_sample(encoder, sampler, batch_size, rng)
        if points is None:
            points = np.zeros((num_points, len(feature)))
        points[i] = feature
    assert points is not None
    return points, labels


def _generate_training_sample(
    encoder: Encoder, sampler: Sampler, batch_size: int, rng: np.random.Generator
) -> tuple[int, np.ndarray]:
    factors1 = sample_factors(sampler, batch_size, rng)
    index = int(rng.integers(factors1.shape[1]))
    factors2 = sample_factors(sampler, batch_size, rng)
    factors2[:, index] = factors1[:, index]
    codes1 = encode(encoder, sampler.sample_observations_from_factors(factors1, rng))
    codes2 = encode(encoder, sampler.sample_observations_from_factors(factors2, rng))
    return index, _difference_feature(codes1, codes2)


def _difference_feature(codes1: np.ndarray, codes2: np.ndarray) -> np.ndarray:
    """Mean absolute difference of paired codes: the β-VAE classifier's input."""
    return np.mean(np.abs(codes1 - codes2), axis=0)


def _fit_and_score(
    train_points: np.ndarray,
    train_labels: np.ndarray,
    eval_points: np.ndarray,
    eval_labels: np.ndarray,
    *,
    random_state: int = 0,
) -> tuple[float, float]:
    """Train and eval accuracy of the β-VAE score's logistic regression."""
    if len(np.unique(train_labels)) < 2:
        raise ValueError("the β-VAE score needs at least two factors among the training points")
    model = LogisticRegression(random_state=random_state).fit(train_points, train_labels)
    train_accuracy = float(np.mean(model.predict(train_points) == train_labels))
    eval_accuracy = float(np.mean(model.predict(eval_points) == eval_labels))
    return train_accuracy, eval_accuracy
