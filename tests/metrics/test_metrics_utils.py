"""Discretisation, discrete MI and entropy, sampling and splits of speechrep.metrics.utils."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from speechrep.metrics.utils import (
    Sampler,
    discrete_entropy,
    discrete_mutual_info,
    generate_batch_factor_code,
    histogram_discretize,
    mutual_info_from_contingency,
    split_train_test,
    subsample,
)


def test_histogram_discretize_hand_computed_and_library_semantics():
    values = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0]])
    # Column 0: edges 0, 1, 2, 3, 4 with 4 bins; digitize against the first four: the max joins bin 4.
    out = histogram_discretize(values, num_bins=4)
    assert out[:, 0].tolist() == [1, 2, 3, 4, 4]
    assert len(set(out[:, 1].tolist())) == 1  # a constant column lands in one bin
    x = np.random.default_rng(0).standard_normal((500, 3))
    expected = np.stack([np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in x.T], axis=1)
    np.testing.assert_array_equal(histogram_discretize(x), expected)
    assert histogram_discretize(x).min() == 1 and histogram_discretize(x).max() == 20


def test_discrete_mutual_info_and_entropy_hand_computed():
    x = np.array([0, 0, 1, 1])
    w = np.array([0, 1, 0, 1])
    mi = discrete_mutual_info(np.stack([x, w], 1), np.stack([x, 1 - x, w], 1))
    np.testing.assert_allclose(mi, [[np.log(2), np.log(2), 0.0], [0.0, 0.0, np.log(2)]], atol=1e-12)
    np.testing.assert_allclose(
        discrete_entropy(np.stack([x, [0, 1, 2, 3], [7, 7, 7, 7]], 1)), [np.log(2), np.log(4), 0]
    )
    # 2x2 table [[2, 1], [1, 2]] / 6: I = sum p log(p / (p_x p_y)) with p_x = p_y = 1/2.
    expected = 2 * (2 / 6) * np.log((2 / 6) / 0.25) + 2 * (1 / 6) * np.log((1 / 6) / 0.25)
    assert mutual_info_from_contingency(np.array([[2, 1], [1, 2]])) == pytest.approx(expected)


def test_discrete_mutual_info_matches_sklearn_on_arbitrary_labels():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 7, (400, 3))
    b = np.stack([a[:, 0] * 10 - 3, rng.choice(["u", "v", "w"], 400)], 1)
    mi = discrete_mutual_info(a, b)
    for i in range(3):
        for j in range(2):
            assert mi[i, j] == pytest.approx(mutual_info_score(b[:, j], a[:, i]), abs=1e-12)


def test_generate_batch_factor_code_batches_and_accepts_torch(metric_sampler):
    calls = []

    def encoder(observations):
        calls.append(len(observations))
        return torch.as_tensor(observations * 2.0)

    assert isinstance(metric_sampler, Sampler)
    codes, factors = generate_batch_factor_code(encoder, metric_sampler, 37, np.random.default_rng(0), 16)
    assert calls == [16, 16, 5]
    assert codes.shape == (37, 3) and factors.shape == (37, 3) and codes.dtype == np.float64
    np.testing.assert_array_equal(codes, factors * 2.0)
    with pytest.raises(ValueError, match=r"\(n, D\)"):
        generate_batch_factor_code(lambda o: np.ones(len(o)), metric_sampler, 4, np.random.default_rng(0))


def test_split_train_test_sizes_disjointness_and_groups():
    rng = np.random.default_rng(0)
    train, test = split_train_test(100, 60, 30, rng)
    assert len(train) == 60 and len(test) == 30 and not set(train) & set(test)
    train, test = split_train_test(30, 100, 50, rng)  # too few rows: shrink in proportion
    assert (len(train), len(test)) == (20, 10)
    groups = np.repeat(np.arange(20), 5)
    train, test = split_train_test(100, 60, 30, rng, groups)
    assert not set(groups[train]) & set(groups[test])
    assert len(train) <= 60 and len(test) <= 30 and len(train) >= 50
    with pytest.raises(ValueError, match="two groups"):
        split_train_test(10, 5, 5, rng, np.zeros(10))
    assert len(subsample(50, 10, rng)) == 10 and sorted(subsample(5, None, rng)) == list(range(5))
