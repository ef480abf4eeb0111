"""Classification and clustering evaluation of latents (the DecVAE-style downstream read-out).

Supervised: cross-validated accuracy of a classifier that predicts a label (vowel, phone, speaker) from
latents, with folds that keep every group (utterance) on one side. Frames of one utterance are close
to each other in latent space and share its labels, so splitting frames at random lets a classifier
recognise the utterance instead of the label and inflates accuracy; DecVAE's protocol leaks this way.
Each classifier runs after a ``StandardScaler`` fitted on the training fold:

- ``"logistic"``: ``LogisticRegression(C=1.0, max_iter=1000)``,
- ``"random_forest"``: ``RandomForestClassifier(n_estimators=200)``,
- ``"svc"``: ``SVC(kernel="rbf", C=1.0)``,

(``params`` overrides their settings). Folds: ``StratifiedGroupKFold`` (grouped folds that also keep
the label proportions close, which matters for rare classes) or, with ``stratify=False``,
``GroupKFold``, both shuffled with the seed; without groups, ``StratifiedKFold`` / ``KFold``. The
chance level returned alongside is the accuracy of predicting the training fold's majority class on the
same folds. DecVAE tunes C by an inner grid search; pass ``params`` to fix another value.

Unsupervised: k-means with as many clusters as classes (by default), then the one-to-one mapping of
clusters to labels that maximises the number of correctly labelled points (the Hungarian algorithm,
``scipy.optimize.linear_sum_assignment``; DecVAE maps greedily, which can give two clusters the same
label or miss the best assignment). Reported: accuracy and macro F1 under that mapping, and the
mapping-free NMI and ARI. Points of clusters left without a label (more clusters than classes) count
as errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

CLASSIFIERS = ("logistic", "random_forest", "svc")


@dataclass(frozen=True)
class CVAccuracy:
    classifier: str
    mean: float
    std: float
    fold_scores: np.ndarray = field(repr=False)
    chance: float  # majority-class accuracy on the same folds
    num_folds: int
    num_rows: int
    num_groups: int | None


@dataclass(frozen=True)
class ClusteringScore:
    accuracy: float  # after the Hungarian cluster -> label mapping
    f1_macro: float
    nmi: float
    ari: float
    mapping: dict[int, Any] = field(repr=False)  # cluster id -> label
    num_clusters: int
    num_classes: int


def make_classifier(name: str, seed: int = 0, params: Mapping[str, Any] | None = None) -> ClassifierMixin:
    """A fresh classifier by name (``"logistic"``, ``"random_forest"``, ``"svc"``) with overrides."""
    params = dict(params or {})
    if name == "logistic":
        return LogisticRegression(**{"C": 1.0, "max_iter": 1000, **params})
    if name == "random_forest":
        return RandomForestClassifier(**{"n_estimators": 200, "random_state": seed, **params})
    if name == "svc":
        return SVC(**{"kernel": "rbf", "C": 1.0, "random_state": seed, **params})
    raise ValueError(f"unknown classifier {name!r}; choose from {CLASSIFIERS}")


def grouped_cv_accuracy(
    latents: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    classifier: str = "logistic",
    n_splits: int = 5,
    seed: int = 0,
    stratify: bool = True,
    standardize: bool = True,
    params: Mapping[str, Any] | None = None,
) -> CVAccuracy:
    """Cross-validated accuracy of ``classifier`` predicting ``labels`` (N,) from ``latents`` (N, D).

    With ``groups`` (N,) (e.g. utterance ids) no group is split across a fold's train and test sets.
    """
    x, y = _check(latents, labels)
    folds = _folds(y, groups, n_splits, seed, stratify)
    scores, chance = [], []
    for train, test in folds:
        model = make_classifier(classifier, seed, params)
        pipeline = make_pipeline(StandardScaler(), model) if standardize else model
        pipeline.fit(x[train], y[train])
        scores.append(float(np.mean(pipeline.predict(x[test]) == y[test])))
        values, counts = np.unique(y[train], return_counts=True)
        chance.append(float(np.mean(y[test] == values[np.argmax(counts)])))
    fold_scores = np.array(scores)
    return CVAccuracy(
        classifier=classifier,
        mean=float(fold_scores.mean()),
        std=float(fold_scores.std()),
        fold_scores=fold_scores,
        chance=float(np.mean(chance)),
        num_folds=len(folds),
        num_rows=len(y),
        num_groups=None if groups is None else len(np.unique(groups)),
    )


def classify_latents(
    latents: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    classifiers: Sequence[str] = CLASSIFIERS,
    n_splits: int = 5,
    seed: int = 0,
    stratify: bool = True,
) -> dict[str, CVAccuracy]:
    """:func:`grouped_cv_accuracy` for each classifier, on the same folds."""
    return {
        name: grouped_cv_accuracy(
            latents, labels, groups, classifier=name, n_splits=n_splits, seed=seed, stratify=stratify
        )
        for name in classifiers
    }


def kmeans_clustering(
    latents: np.ndarray,
    labels: np.ndarray,
    *,
    n_clusters: int | None = None,
    seed: int = 0,
    n_init: int = 10,
    standardize: bool = True,
) -> ClusteringScore:
    """k-means on ``latents`` (N, D) scored against ``labels`` (N,) (k = number of classes by default)."""
    x, y = _check(latents, labels)
    classes = np.unique(y)
    k = len(classes) if n_clusters is None else n_clusters
    if not 1 <= k <= len(x):
        raise ValueError(f"n_clusters must be in [1, {len(x)}]; got {k}")
    if standardize:
        x = StandardScaler().fit_transform(x)
    clusters = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)
    return _score_clustering(y, clusters, k)


def hungarian_mapping(labels: np.ndarray, clusters: np.ndarray) -> dict[int, Any]:
    """The one-to-one cluster -> label mapping that labels the most points correctly."""
    classes, label_index = np.unique(np.asarray(labels), return_inverse=True)
    cluster_ids, cluster_index = np.unique(np.asarray(clusters), return_inverse=True)
    counts = np.zeros((len(cluster_ids), len(classes)), dtype=np.int64)
    np.add.at(counts, (cluster_index.reshape(-1), label_index.reshape(-1)), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {cluster_ids[r].item(): classes[c].item() for r, c in zip(rows, cols)}


def hungarian_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Accuracy of the clustering under :func:`hungarian_mapping`."""
    labels = np.asarray(labels)
    mapping = hungarian_mapping(labels, clusters)
    predicted = [mapping.get(c) for c in np.asarray(clusters).tolist()]
    return float(np.mean([p is not None and p == t for p, t in zip(predicted, labels.tolist())]))


def _score_clustering(labels: np.ndarray, clusters: np.ndarray, k: int) -> ClusteringScore:
    mapping = hungarian_mapping(labels, clusters)
    classes, label_index = np.unique(labels, return_inverse=True)
    class_position = {value.item(): i for i, value in enumerate(classes)}
    predicted = np.array([class_position[mapping[c]] if c in mapping else -1 for c in clusters.tolist()])
    truth = label_index.reshape(-1)
    return ClusteringScore(
        accuracy=float(np.mean(predicted == truth)),
        f1_macro=float(
            f1_score(truth, predicted, labels=np.arange(len(classes)), average="macro", zero_division=0)
        ),
        nmi=float(normalized_mutual_info_score(labels, clusters)),
        ari=float(adjusted_rand_score(labels, clusters)),
        mapping=mapping,
        num_clusters=k,
        num_classes=len(classes),
    )


def _check(latents: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(latents, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"latents must be (N, D) with one label per row; got {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("latents contain NaN or infinite values")
    if len(np.unique(y)) < 2:
        raise ValueError("need at least two classes")
    return x, y


def _folds(
    labels: np.ndarray, groups: np.ndarray | None, n_splits: int, seed: int, stratify: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    if groups is None:
        splitter = (StratifiedKFold if stratify else KFold)(n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(labels)), labels))
    groups = np.asarray(groups)
    if len(groups) != len(labels):
        raise ValueError(f"groups has {len(groups)} entries for {len(labels)} rows")
    num_groups = len(np.unique(groups))
    if num_groups < n_splits:
        raise ValueError(f"{num_groups} groups cannot fill {n_splits} grouped folds")
    splitter = (StratifiedGroupKFold if stratify else GroupKFold)(n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels, groups))
