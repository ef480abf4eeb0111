"""Linear probes per layer, with control tasks (selectivity) and the MDL online code.

**Probe.** Multinomial logistic regression (softmax over K classes, L2 penalty ``1 / (2C) ‖W‖²``,
L-BFGS) on standardised features, trained on one part of the rows and scored on the rest. The
split is grouped (``GroupShuffleSplit``) when ``groups`` is given, so that the segments of one
utterance (or one speaker) never sit on both sides and the probe cannot score by recognising an
utterance. Accuracy is reported with the majority baseline (the most frequent training label).

**Control task** (Hewitt & Liang 2019, "Designing and interpreting probes with control tasks").
Every *type* ``v`` (the unit a label is predicted for: the word type of a word segment, the word a
phone belongs to, ...) gets a control label ``c(v)`` drawn once, with ``seed``, from the empirical
distribution of the real labels over rows, ``P(c(v) = k) = n_k / n``; every row of that type gets
``c(v)``. The control labels thus come from the same label set with the same class marginals in
expectation, and can only be predicted by memorising types. Selectivity is

    selectivity = accuracy(real labels) - accuracy(control labels)

with the same probe, split and hyperparameters: a probe that reads the property from the
representation (rather than memorising its inputs) has high selectivity. Without types, each row
is its own type: the control labels are then random labels with the real marginals, and the
control accuracy measures what the probe gets from fitting noise.

**MDL online code** (Voita & Titov 2020, "Information-theoretic probing with minimum description
length"). The shuffled rows are cut at fractions ``t_1 < … < t_S = 1`` of n (by default 0.1, 0.2,
0.4, 0.8, 1.6, 3.2, 6.25, 12.5, 25, 50, 100 %). The first block is sent with the uniform code;
block ``i`` is sent with a probe trained on all rows before it:

    L_online = t_1 · log2 K + Σ_{i=1}^{S-1} Σ_{j ∈ (t_i, t_{i+1}]} -log2 p_{θ_i}(y_j | x_j),
    L_uniform = n · log2 K,        compression = L_uniform / L_online

Classes absent from a training block would get probability 0 (an infinite code); the probe's
distribution is therefore mixed with the uniform one, ``(1 - ε) p + ε / K`` with ``ε = 1e-3``,
which costs at most ``-log2(1 - ε) ≈ 0.0014`` bits per row elsewhere.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

#: Voita & Titov's block boundaries, as fractions of the rows.
MDL_PORTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)


def _as_features(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"features must be (rows, dim), got shape {x.shape}")
    # float16 memory maps (the store's rows) are read as float32, which the solver accepts as is
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression (L-BFGS) on standardised features, scikit-learn style.

    ``C`` is the inverse L2 strength, ``seed`` the solver's random state; ``standardize`` puts a
    :class:`~sklearn.preprocessing.StandardScaler` in front (fitted on the training rows only).
    ``converged_`` says whether L-BFGS stopped before ``max_iter`` (no warning is printed).
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000, seed: int = 0, standardize: bool = True) -> None:
        self.C = C
        self.max_iter = max_iter
        self.seed = seed
        self.standardize = standardize

    def fit(self, X: np.ndarray, y: np.ndarray) -> LinearProbe:
        X, y = _as_features(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"{len(X)} rows of features but {len(y)} labels")
        if len(np.unique(y)) < 2:
            raise ValueError("a probe needs at least two classes in its training labels")
        steps = [("scale", StandardScaler())] if self.standardize else []
        steps.append(
            (
                "logreg",
                LogisticRegression(C=self.C, solver="lbfgs", max_iter=self.max_iter, random_state=self.seed),
            )
        )
        with warnings.catch_warnings():  # recorded as ``converged_`` (and in results) instead
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.pipeline_ = Pipeline(steps).fit(X, y)
        self.converged_ = bool(np.max(self.pipeline_[-1].n_iter_) < self.max_iter)
        self.classes_ = self.pipeline_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(_as_features(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(_as_features(X))


# ---------------------------------------------------------------------------------------------------
def train_test_indices(
    num_rows: int, groups: Sequence | np.ndarray | None = None, test_size: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, test)`` row indices; with ``groups`` no group is on both sides.

    ``test_size`` is the fraction of rows (of groups, when grouped) held out.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    rows = np.zeros((num_rows, 1))
    if groups is None:
        splitter = ShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(rows))
    else:
        groups = np.asarray(groups)
        if len(groups) != num_rows:
            raise ValueError(f"{len(groups)} groups for {num_rows} rows")
        if len(np.unique(groups)) < 2:
            raise ValueError("a grouped split needs at least two groups")
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(rows, groups=groups))
    return np.sort(train), np.sort(test)


def control_labels(
    labels: Sequence | np.ndarray, types: Sequence | np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Hewitt & Liang control labels: one label per type, drawn from the labels' empirical distribution.

    One draw per distinct type, in sorted type order, from ``numpy.random.default_rng(seed)``; draw
    them once for all rows (as :func:`probe_layers` does) so that train and test rows of a type agree.
    ``types=None``: every row is its own type.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    if types is None:
        return classes[rng.choice(len(classes), size=len(labels), p=counts / counts.sum())]
    types = np.asarray(types)
    if len(types) != len(labels):
        raise ValueError(f"{len(types)} types for {len(labels)} labels")
    unique_types, type_of_row = np.unique(types, return_inverse=True)
    drawn = rng.choice(len(classes), size=len(unique_types), p=counts / counts.sum())
    return classes[drawn[type_of_row]]


@dataclass(frozen=True)
class ProbeResult:
    """Held-out accuracy of one layer's probe, its baselines and the split sizes."""

    accuracy: float
    majority: float  # accuracy of always predicting the most frequent training label
    control_accuracy: float | None
    selectivity: float | None  # accuracy - control_accuracy
    num_train: int
    num_test: int
    num_classes: int
    converged: bool  # L-BFGS stopped before max_iter (on the real labels and, if any, the control)


def _accuracy(
    probe: LinearProbe, x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray
) -> tuple[float, bool]:
    probe.fit(x[train], y[train])
    return float(np.mean(probe.predict(x[test]) == y[test])), probe.converged_


def probe_layers(
    features: Mapping[str, np.ndarray],
    labels: Sequence | np.ndarray,
    groups: Sequence | np.ndarray | None = None,
    control: bool = True,
    control_types: Sequence | np.ndarray | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 1000,
    standardize: bool = True,
) -> dict[str, ProbeResult]:
    """A :class:`LinearProbe` per layer on one shared split: ``{layer: ProbeResult}``.

    ``features[layer]`` is (rows, dim) (e.g. a phone-span store's rows), ``labels`` one label per
    row (phone, word, speaker or any other). ``groups`` (utterance or speaker ids) makes the split
    grouped. ``control`` adds the control task on ``control_types`` (module docstring: the type of
    each row, e.g. its word; ``None`` gives each row its own type). The split and the control labels
    are drawn from ``seed`` and shared by every layer.
    """
    labels = np.asarray(labels)
    sizes = {name: len(x) for name, x in features.items()}
    if not sizes:
        raise ValueError("no layers to probe")
    if set(sizes.values()) != {len(labels)}:
        raise ValueError(f"every layer needs one row per label ({len(labels)}); got rows {sizes}")
    train, test = train_test_indices(len(labels), groups, test_size, seed)
    controls = control_labels(labels, control_types, seed) if control else None
    values, counts = np.unique(labels[train], return_counts=True)
    majority = float(np.mean(labels[test] == values[np.argmax(counts)]))
    num_classes = len(np.unique(labels))

    results = {}
    for name, x in features.items():
        x = _as_features(x)
        probe = LinearProbe(C=C, max_iter=max_iter, seed=seed, standardize=standardize)
        accuracy, converged = _accuracy(probe, x, labels, train, test)
        control_accuracy = None
        if controls is not None:
            control_accuracy, control_converged = _accuracy(probe, x, controls, train, test)
            converged = converged and control_converged
        results[name] = ProbeResult(
            accuracy=accuracy,
            majority=majority,
            control_accuracy=control_accuracy,
            selectivity=None if control_accuracy is None else accuracy - control_accuracy,
            num_train=len(train),
            num_test=len(test),
            num_classes=num_classes,
            converged=converged,
        )
    return results


# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MDLResult:
    """Online and uniform codelengths (bits) of the labels given the features."""

    online_bits: float
    uniform_bits: float
    compression: float  # uniform_bits / online_bits
    num_examples: int
    num_classes: int
    block_bits: tuple[float, ...]  # first block (uniform code), then one entry per transmitted block
    boundaries: tuple[int, ...]  # row counts t_1 < ... < t_S = n


def mdl_online_codelength(
    X: np.ndarray,
    y: Sequence | np.ndarray,
    portions: Sequence[float] = MDL_PORTIONS,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 1000,
    standardize: bool = True,
    uniform_mix: float = 1e-3,
) -> MDLResult:
    """Online codelength of ``y`` given ``X`` with :class:`LinearProbe` (Voita & Titov 2020).

    Rows are shuffled with ``seed``; ``portions`` are the increasing block boundaries as fractions of
    the rows (the last must be 1). A training block with a single class predicts that class; every
    prediction is mixed with the uniform distribution by ``uniform_mix`` (module docstring).
    """
    x, labels = _as_features(X), np.asarray(y)
    n = len(labels)
    if len(x) != n:
        raise ValueError(f"{len(x)} rows of features but {n} labels")
    fractions = np.asarray(portions, dtype=np.float64)
    if fractions.ndim != 1 or np.any(np.diff(fractions) <= 0) or fractions[0] <= 0 or fractions[-1] != 1.0:
        raise ValueError(f"portions must increase within (0, 1] and end at 1, got {tuple(portions)}")
    if not 0.0 < uniform_mix < 1.0:
        raise ValueError(f"uniform_mix must be in (0, 1), got {uniform_mix}")
    classes, codes = np.unique(labels, return_inverse=True)
    k = len(classes)
    if k < 2:
        raise ValueError("the MDL code needs at least two classes")
    boundaries = tuple(int(b) for b in np.unique(np.clip(np.round(fractions * n), 1, n).astype(np.int64)))
    if len(boundaries) < 2:
        raise ValueError(f"{n} rows are too few for the block boundaries {tuple(portions)}")

    order = np.random.default_rng(seed).permutation(n)
    x, codes = x[order], codes[order]
    block_bits = [boundaries[0] * math.log2(k)]
    for start, stop in itertools.pairwise(boundaries):
        seen = np.unique(codes[:start])
        probabilities = np.zeros((stop - start, k))
        if len(seen) == 1:
            probabilities[:, seen[0]] = 1.0
        else:
            probe = LinearProbe(C=C, max_iter=max_iter, seed=seed, standardize=standardize)
            probe.fit(x[:start], codes[:start])
            probabilities[:, probe.classes_] = probe.predict_proba(x[start:stop])
        mixed = (1.0 - uniform_mix) * probabilities[
            np.arange(stop - start), codes[start:stop]
        ] + uniform_mix / k
        block_bits.append(float(-np.log2(mixed).sum()))
    online = float(sum(block_bits))
    uniform = n * math.log2(k)
    return MDLResult(online, uniform, uniform / online, n, k, tuple(block_bits), boundaries)
