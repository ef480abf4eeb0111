"""Linear probes: separable and random labels, grouped splits, control tasks, MDL online code."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from speechrep.analysis.probes import (
    MDL_PORTIONS,
    LinearProbe,
    control_labels,
    mdl_online_codelength,
    probe_layers,
    train_test_indices,
)


def word_like_rows(n: int = 1500, num_types: int = 60, num_labels: int = 4, seed: int = 0):
    """Rows of word types, each type with one label (like a word's part of speech).

    Returns the label-informative features (label centre + noise, nothing type-specific), pure-noise
    features, labels, types and utterance groups.
    """
    rng = np.random.default_rng(seed)
    label_of_type = rng.integers(0, num_labels, num_types)
    types = rng.integers(0, num_types, n)
    labels = np.array([f"L{k}" for k in label_of_type[types]])
    centres = 3.0 * rng.standard_normal((num_labels, 12))
    informative = centres[label_of_type[types]] + rng.standard_normal((n, 12))
    noise = rng.standard_normal((n, 12))
    groups = np.repeat(np.arange(n // 10), 10)
    return informative, noise, labels, types, groups


def test_separable_labels_are_probed_accurately_and_selectively():
    informative, noise, labels, types, groups = word_like_rows()
    results = probe_layers(
        {"good": informative, "noise": noise}, labels, groups=groups, control_types=types, seed=1
    )
    good, bad = results["good"], results["noise"]
    assert good.accuracy > 0.97
    assert good.control_accuracy < 0.6  # control labels follow word types, which the features do not encode
    assert good.selectivity > 0.4
    assert abs(bad.accuracy - bad.majority) < 0.1  # noise features: no better than the majority label
    assert good.num_train + good.num_test == len(labels) and good.num_classes == 4
    assert good.majority == bad.majority  # one split for every layer


def test_random_labels_score_at_the_majority_baseline():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1200, 16))
    labels = rng.choice(["a", "b", "c"], size=1200, p=[0.5, 0.3, 0.2])
    result = probe_layers({"layer": x.astype(np.float16)}, labels, control=False)["layer"]
    assert result.accuracy == pytest.approx(result.majority, abs=0.06)
    assert result.control_accuracy is None and result.selectivity is None
    assert result.num_test == 240


def test_grouped_split_never_shares_a_group():
    groups = np.repeat([f"utt{k}" for k in range(50)], np.random.default_rng(3).integers(1, 12, 50))
    for seed in range(5):
        train, test = train_test_indices(len(groups), groups, test_size=0.2, seed=seed)
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(groups) and len(np.union1d(train, test)) == len(groups)
        assert len(set(groups[test])) == 10  # the held-out fraction counts groups
    train, test = train_test_indices(100, test_size=0.25, seed=0)
    assert (len(train), len(test)) == (75, 25)
    with pytest.raises(ValueError, match="two groups"):
        train_test_indices(10, ["one"] * 10)


def test_control_labels_are_consistent_per_type_and_keep_the_label_marginals():
    rng = np.random.default_rng(4)
    labels = rng.choice(["n", "v", "a"], size=20000, p=[0.6, 0.3, 0.1])
    types = rng.integers(0, 2000, 20000)
    controls = control_labels(labels, types, seed=7)
    for t in np.unique(types)[:200]:
        assert len(set(controls[types == t])) == 1
    assert set(controls) <= set(labels)
    for label, share in (("n", 0.6), ("v", 0.3), ("a", 0.1)):
        assert np.mean(controls == label) == pytest.approx(share, abs=0.05)
    # reproducible, and different for another seed
    assert np.array_equal(controls, control_labels(labels, types, seed=7))
    assert not np.array_equal(controls, control_labels(labels, types, seed=8))
    # without types every row is its own type: random labels with the same marginals
    per_row = control_labels(labels, seed=0)
    assert np.mean(per_row == "n") == pytest.approx(0.6, abs=0.02)
    assert np.mean(per_row == labels) == pytest.approx(0.6**2 + 0.3**2 + 0.1**2, abs=0.02)


def test_mdl_compression_is_high_for_learnable_labels_and_about_one_for_random_ones():
    rng = np.random.default_rng(5)
    n, k = 2000, 5
    labels = rng.integers(0, k, n)
    x = 2.0 * rng.standard_normal((k, 10))[labels] + rng.standard_normal((n, 10))
    learnable = mdl_online_codelength(x, labels, seed=0)
    assert learnable.uniform_bits == pytest.approx(n * np.log2(k))
    assert learnable.compression > 5
    assert learnable.online_bits == pytest.approx(sum(learnable.block_bits))
    assert learnable.boundaries == (2, 4, 8, 16, 32, 64, 125, 250, 500, 1000, 2000)
    assert learnable.block_bits[0] == pytest.approx(2 * np.log2(k))  # first block: uniform code
    assert len(learnable.block_bits) == len(MDL_PORTIONS)

    random = mdl_online_codelength(x, rng.integers(0, k, n), seed=0)
    assert 0.85 < random.compression < 1.05
    with pytest.raises(ValueError, match="end at 1"):
        mdl_online_codelength(x, labels, portions=(0.1, 0.5))


def test_linear_probe_follows_estimator_conventions():
    probe = LinearProbe(C=0.5, seed=3)
    assert probe.get_params() == {"C": 0.5, "max_iter": 1000, "seed": 3, "standardize": True}
    assert "C=0.5" in repr(probe)
    with pytest.raises(NotFittedError):
        probe.predict(np.zeros((2, 3)))
    informative, _, labels, _, _ = word_like_rows(n=400)
    fitted = clone(probe).fit(informative.astype(np.float16), labels)
    assert fitted.n_features_in_ == 12 and list(fitted.classes_) == ["L0", "L1", "L2", "L3"]
    assert fitted.score(informative, labels) > 0.95
    assert fitted.predict_proba(informative[:3]).shape == (3, 4)
    raw = LinearProbe(standardize=False).fit(informative, labels)
    assert [name for name, _ in raw.pipeline_.steps] == ["logreg"]
    with pytest.raises(ValueError, match="two classes"):
        LinearProbe().fit(informative[:5], ["x"] * 5)
    with pytest.raises(ValueError, match="one row per label"):
        probe_layers({"layer": informative}, labels[:-1])


def test_convergence_is_recorded_instead_of_warned():
    import warnings

    informative, _, labels, _, groups = word_like_rows(n=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning would fail the test
        capped = probe_layers({"x": informative}, labels, groups=groups, max_iter=2)["x"]
        full = probe_layers({"x": informative}, labels, groups=groups)["x"]
    assert capped.converged is False and full.converged is True
