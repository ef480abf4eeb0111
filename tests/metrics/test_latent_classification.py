"""Grouped cross-validated read-out and k-means with the Hungarian mapping."""

from __future__ import annotations

import numpy as np
import pytest

from speechrep.metrics.latent_classification import (
    _folds,
    classify_latents,
    grouped_cv_accuracy,
    hungarian_accuracy,
    hungarian_mapping,
    kmeans_clustering,
)


def test_perfect_code_reads_out_and_random_code_sits_at_chance(metric_code_set):
    factors = metric_code_set.factors[:600]
    groups = np.arange(600) // 6
    perfect = classify_latents(metric_code_set.codes["perfect"][:600], factors[:, 0], groups, n_splits=3)
    random = classify_latents(metric_code_set.codes["random"][:600], factors[:, 0], groups, n_splits=3)
    assert set(perfect) == {"logistic", "random_forest", "svc"}
    for name in perfect:
        assert perfect[name].mean >= 0.95, name
        assert random[name].mean == pytest.approx(0.2, abs=0.08), name  # 5 uniform levels
        assert perfect[name].num_folds == 3 and perfect[name].num_groups == 100
    assert perfect["logistic"].chance == pytest.approx(0.2, abs=0.06)


def test_grouped_folds_keep_utterances_apart_and_stop_the_leak():
    # 40 utterances of 15 frames; each has its own random offset in latent space and one label that
    # has nothing to do with the offset. Frame-level folds let the classifier recognise the utterance.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 15)
    labels = rng.integers(0, 2, 40)[groups]
    latents = rng.standard_normal((40, 8))[groups] + 0.05 * rng.standard_normal((600, 8))
    for train, test in _folds(labels, groups, 5, 0, True):
        assert not set(groups[train]) & set(groups[test])
    leaky = grouped_cv_accuracy(
        latents, labels, None, classifier="random_forest", params={"n_estimators": 30}
    )
    grouped = grouped_cv_accuracy(
        latents, labels, groups, classifier="random_forest", params={"n_estimators": 30}
    )
    assert leaky.mean > 0.95
    assert grouped.mean < 0.75
    unstratified = grouped_cv_accuracy(latents, labels, groups, stratify=False)
    assert unstratified.num_folds == 5
    with pytest.raises(ValueError, match="grouped folds"):
        grouped_cv_accuracy(latents, labels, np.repeat(np.arange(3), 200))


def test_hungarian_mapping_hand_computed():
    clusters = np.array([0, 0, 1, 1, 2, 2])
    labels = np.array(["b", "b", "a", "a", "a", "c"])
    # Cluster 2 holds one "a" and one "c": a greedy majority mapping would give it "a" again;
    # the one-to-one optimum gives it "c", for 5 of 6 points.
    assert hungarian_mapping(labels, clusters) == {0: "b", 1: "a", 2: "c"}
    assert hungarian_accuracy(labels, clusters) == pytest.approx(5 / 6)
    # More clusters than labels: the unmatched cluster's points count as errors.
    assert hungarian_accuracy(np.array([0, 0, 1, 1]), np.array([0, 1, 2, 2])) == pytest.approx(3 / 4)


def test_kmeans_on_separable_clusters_is_perfect_and_on_noise_is_not():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.array([7, 3, 5]), 50)
    centres = {7: [0.0, 0.0], 3: [10.0, 0.0], 5: [0.0, 10.0]}
    latents = np.array([centres[label] for label in labels]) + rng.standard_normal((150, 2))
    result = kmeans_clustering(latents, labels)
    assert (result.accuracy, result.f1_macro) == (1.0, 1.0)
    assert result.nmi == pytest.approx(1.0) and result.ari == pytest.approx(1.0)
    assert sorted(result.mapping.values()) == [3, 5, 7] and result.num_clusters == 3
    noise = kmeans_clustering(rng.standard_normal((150, 2)), labels)
    assert noise.nmi < 0.1 and noise.ari < 0.1 and noise.accuracy < 0.6
