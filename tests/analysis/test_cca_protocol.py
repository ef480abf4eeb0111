"""Cross-validation protocol: splits, per-split statistics, held-out scores, eps choice and failures."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from speechrep.analysis.cca import PWCCA
from speechrep.analysis.cca_protocol import (
    REFERENCE_EPS_GRID,
    SplitStatistics,
    cross_validated_score,
    cross_validated_score_from_statistics,
    make_splits,
    trial_pairs,
)
from speechrep.utils.io import atomic_save_npy


def correlated_views(n: int, dx: int, dy: int, seed: int = 0, latent: int = 4):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent))
    x = (z @ rng.standard_normal((latent, dx)) + rng.standard_normal((n, dx))) * np.exp(
        rng.normal(0, 0.5, dx)
    )
    y = (z @ rng.standard_normal((latent, dy)) + rng.standard_normal((n, dy))) * np.exp(
        rng.normal(0, 0.5, dy)
    )
    return x + rng.normal(0, 3, dx), y + rng.normal(0, 3, dy)


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes)[labels]


# --------------------------------------------------------------------------------------------------
# Splits


def test_splits_are_disjoint_covering_balanced_and_stratified():
    rng = np.random.default_rng(0)
    labels = rng.choice(["aa", "b", "c", "d", "rare"], size=1237, p=[0.5, 0.25, 0.15, 0.095, 0.005])
    splits = make_splits(len(labels), labels, 10, seed=3)
    assert len(splits) == 10
    everything = np.concatenate(splits)
    assert len(everything) == 1237 and np.array_equal(np.sort(everything), np.arange(1237))
    sizes = [len(s) for s in splits]
    assert max(sizes) - min(sizes) <= 1
    for label in np.unique(labels):
        counts = [int(np.sum(labels[s] == label)) for s in splits]
        assert max(counts) - min(counts) <= 1, (label, counts)
        assert min(counts) == np.sum(labels == label) // 10
    unlabelled = make_splits(1003, None, 10, seed=3)
    assert sorted(len(s) for s in unlabelled) == [100] * 7 + [101] * 3
    assert all(np.all(np.diff(s) > 0) for s in unlabelled)


def test_splits_are_deterministic_for_a_seed():
    labels = np.repeat(np.arange(7), 31)
    first, again = make_splits(217, labels, 10, seed=5), make_splits(217, labels, 10, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    other = make_splits(217, labels, 10, seed=6)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_split_cache_is_reused_and_invalidated_when_labels_change(tmp_path: Path):
    labels = np.repeat(["x", "y", "z"], 40)
    first = make_splits(120, labels, 10, seed=1, cache_dir=tmp_path)
    (cached,) = tmp_path.glob("splits-*.npy")
    # overwrite the cached assignment with another valid one: a reuse must return it
    tampered = np.roll(np.load(cached), 1)
    atomic_save_npy(cached, tampered)
    reused = make_splits(120, labels, 10, seed=1, cache_dir=tmp_path)
    assert all(np.array_equal(s, np.flatnonzero(tampered == k)) for k, s in enumerate(reused))
    assert not all(np.array_equal(a, b) for a, b in zip(first, reused))
    # changed labels (same n, seed, num_splits) hash to another file and are split afresh
    relabelled = labels.copy()
    relabelled[:5] = "w"
    fresh = make_splits(120, relabelled, 10, seed=1, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("splits-*.npy"))) == 2
    assert all(np.array_equal(a, b) for a, b in zip(fresh, make_splits(120, relabelled, 10, seed=1)))
    # a corrupt cache file is recomputed, not trusted
    atomic_save_npy(cached, np.zeros(7, dtype=np.int64))
    assert all(
        np.array_equal(a, b) for a, b in zip(make_splits(120, labels, 10, 1, cache_dir=tmp_path), first)
    )


def test_trials_use_disjoint_dev_and_test_splits():
    pairs = trial_pairs(10, seed=4)
    flat = [s for pair in pairs for s in pair]
    assert len(pairs) == 5 and sorted(flat) == list(range(10))
    assert pairs == trial_pairs(10, seed=4) and pairs != trial_pairs(10, seed=5)


def test_reference_grid_tries_the_primary_block_first():
    primary = {(a, b) for a in (1e-11, 1e-10, 1e-9) for b in (1e-11, 1e-10, 1e-9)}
    assert set(REFERENCE_EPS_GRID[:9]) == primary and len(REFERENCE_EPS_GRID) == 25
    assert min(min(p) for p in REFERENCE_EPS_GRID[9:]) == 1e-8


# --------------------------------------------------------------------------------------------------
# Statistics


class ChunkCounter:
    """An array-like over a memmap that counts reads and refuses reads of more than ``limit`` rows."""

    def __init__(self, array: np.ndarray, limit: int) -> None:
        self.array, self.limit, self.reads = array, limit, 0
        self.shape, self.dtype = array.shape, array.dtype

    def __getitem__(self, key):
        assert isinstance(key, slice) and key.stop - key.start <= self.limit
        self.reads += 1
        return self.array[key]


def test_split_statistics_come_from_one_streaming_pass_over_a_float16_memmap(tmp_path: Path):
    x, y = correlated_views(2000, 12, 5, seed=1)
    np.save(tmp_path / "x.npy", x.astype(np.float16))
    np.save(tmp_path / "y.npy", y.astype(np.float16))
    mx, my = np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    splits = make_splits(2000, None, 10, seed=0)
    xs, ys = ChunkCounter(mx, 300), ChunkCounter(my, 300)
    stats = SplitStatistics.from_arrays(xs, ys, splits, chunk_rows=300, device="cpu")
    assert xs.reads == ys.reads == 7  # ceil(2000 / 300): every row read once
    x16, y16 = np.asarray(mx, np.float64), np.asarray(my, np.float64)
    for rows, moments in zip(splits, stats.splits):
        assert moments.count == len(rows)
        np.testing.assert_allclose(moments.mean_y.numpy(), y16[rows].mean(0), atol=1e-12)
        sxx, _, sxy = moments.scatter()
        joint = np.cov(x16[rows].T, y16[rows].T) * (len(rows) - 1)
        np.testing.assert_allclose(sxx.numpy(), joint[:12, :12], rtol=1e-10, atol=1e-8)
        np.testing.assert_allclose(sxy.numpy(), joint[:12, 12:], rtol=1e-10, atol=1e-8)
    train = stats.combine(range(2, 10))
    rows = np.concatenate(splits[2:])
    np.testing.assert_allclose(train.covariances()[1].numpy(), np.cov(y16[rows].T), rtol=1e-10, atol=1e-12)
    streamed = cross_validated_score(
        ChunkCounter(mx, 256), ChunkCounter(my, 256), chunk_rows=256, device="cpu"
    )
    in_memory = cross_validated_score(x16, y16, device="cpu")
    assert streamed.score == pytest.approx(in_memory.score, abs=1e-10)
    np.testing.assert_allclose(streamed.test_scores, in_memory.test_scores, atol=1e-10)
    with pytest.raises(ValueError, match="overlaps"):
        SplitStatistics.from_arrays(x, y, [np.arange(10), np.arange(5, 20)], device="cpu")


# --------------------------------------------------------------------------------------------------
# Protocol


def test_exact_linear_relation_scores_one_on_every_held_out_split():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3000, 40)) + 1.0
    y = x @ rng.standard_normal((40, 25))
    result = cross_validated_score(x, y, device="cpu")
    np.testing.assert_allclose(result.test_scores, 1.0, atol=1e-8)
    np.testing.assert_allclose(result.dev_scores, 1.0, atol=1e-8)
    assert result.components == (25, 25, 25)


def test_independent_views_score_zero_held_out_while_in_sample_is_inflated():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((3000, 120)), rng.standard_normal((3000, 40))
    result = cross_validated_score(x, y, device="cpu")
    assert abs(result.score) < 0.03  # the reported, held-out score
    assert min(result.train_scores) > 0.12  # in-sample: visibly inflated (n / d = 20)
    cca = cross_validated_score(x, y, method="cca", device="cpu")
    assert abs(cca.score) < 0.03 and min(cca.train_scores) > 0.12


def test_score_falls_monotonically_with_added_noise_on_one_hot_labels():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 8, 2400)
    y = one_hot(labels, 8)  # columns sum to one: a numerically null direction of Sigma_yy
    mixing = rng.standard_normal((8, 30))
    noise = rng.standard_normal((2400, 30))
    scores = [
        cross_validated_score(y @ mixing + sigma * noise, y, labels, device="cpu").score
        for sigma in (0.1, 0.5, 1.0, 2.0, 4.0)
    ]
    assert all(a > b + 0.02 for a, b in itertools.pairwise(scores)), scores
    assert scores[0] > 0.95 and scores[-1] < 0.6


def test_invariance_to_per_view_affine_maps_and_dropped_constant_columns():
    rng = np.random.default_rng(5)
    x, y = correlated_views(3000, 16, 8, seed=5)
    base = cross_validated_score(x, y, method="cca", eps_grid=[(1e-14, 1e-14)], device="cpu")
    w, b = np.eye(16) + 0.3 * rng.standard_normal((16, 16)), rng.normal(0, 4, 16)
    moved = cross_validated_score(
        x @ w + b, 2.5 * y - 1.0, method="cca", eps_grid=[(1e-14, 1e-14)], device="cpu"
    )
    np.testing.assert_allclose(moved.test_scores, base.test_scores, atol=1e-9)
    padded_x = np.column_stack([x[:, :5], np.zeros(3000), x[:, 5:], np.full(3000, -2.0)])
    padded_y = np.column_stack([np.full(3000, 7.0), y])
    for method in ("pwcca", "cca", "svcca"):
        plain = cross_validated_score(x, y, method=method, device="cpu")
        padded = cross_validated_score(padded_x, padded_y, method=method, device="cpu")
        np.testing.assert_allclose(padded.test_scores, plain.test_scores, atol=1e-10)
        assert padded.eps_pairs == plain.eps_pairs


def test_held_out_scores_from_statistics_equal_direct_computation_on_the_data():
    x, y = correlated_views(3000, 20, 9, seed=6)
    result = cross_validated_score(x, y, device="cpu", seed=2)
    splits = make_splits(3000, None, 10, seed=2)
    for t, (dev, test) in enumerate(result.trials):
        train = np.concatenate([splits[s] for s in range(10) if s not in (dev, test)])
        assert result.sizes[t] == (len(train), len(splits[dev]), len(splits[test]))
        est = PWCCA(*result.eps_pairs[t]).fit(x[train], y[train])
        for rows, reported in ((splits[test], result.test_scores[t]), (splits[dev], result.dev_scores[t])):
            xt, yt = x[rows] - x[rows].mean(0), y[rows] - y[rows].mean(0)
            h, g = xt @ est.x_projection_, yt @ est.y_projection_
            rho = (h * g).sum(0) / np.sqrt((h * h).sum(0) * (g * g).sum(0))
            q, _ = np.linalg.qr(g)  # y (9 columns) is the weighting view
            alpha = np.abs(q.T @ yt).sum(1)
            assert reported == pytest.approx(np.sum(alpha / alpha.sum() * rho), abs=1e-8)
        assert result.train_scores[t] == pytest.approx(est.score(x[train], y[train]), abs=1e-8)


def test_eps_is_chosen_on_dev_from_max_pairs_fits():
    x, y = correlated_views(2000, 30, 30, seed=7)
    result = cross_validated_score(x, y, max_pairs=4, device="cpu")
    assert len(result.trials) == 3 and len({s for pair in result.trials for s in pair}) == 6
    for grid, chosen, dev in zip(result.dev_grid, result.eps_pairs, result.dev_scores):
        assert [(ex, ey) for ex, ey, _ in grid] == list(REFERENCE_EPS_GRID[:4])
        best = max(grid, key=lambda item: item[2])
        assert chosen == best[:2] and dev == best[2]
    stats = SplitStatistics.from_arrays(x, y, make_splits(2000, None, 10, 0), device="cpu")
    again = cross_validated_score_from_statistics(stats, "pwcca", max_pairs=4)
    assert again.score == result.score and again.to_dict()["eps_pairs"] == result.eps_pairs


def test_failing_eps_pairs_are_skipped_and_recorded():
    x, y = correlated_views(1500, 10, 6, seed=8)
    grid = [(2.0, 1e-10), (1e-10, 1e-10), (1e-9, 5.0)]  # eps above every scaled variance: nothing kept
    result = cross_validated_score(x, y, eps_grid=grid, device="cpu")
    assert result.eps_pairs == ((1e-10, 1e-10),) * 3
    assert len(result.failures) == 6 and {f[2:4] for f in result.failures} == {(2.0, 1e-10), (1e-9, 5.0)}
    assert all("eps" in f[4] for f in result.failures)
    with pytest.raises(RuntimeError, match="trials"):
        cross_validated_score(x, y, eps_grid=[(2.0, 2.0)], device="cpu")


def test_splits_with_fewer_rows_than_canonical_variates_fail_saying_so():
    # 60 rows in 10 splits: 6 rows per scored split against 12 variates (min of 30 and 12 dims)
    x, y = correlated_views(60, 30, 12, seed=3)
    with pytest.raises(RuntimeError, match="12 canonical variates cannot be weighted on 6 rows"):
        cross_validated_score(x, y, device="cpu")
    assert cross_validated_score(x, y, method="cca", device="cpu").score < 1  # plain CCA needs no weights
