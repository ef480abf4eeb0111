"""k-means MI: perfect clusters -> 1, independent -> 0, relabelling invariance, a hand-computed table,
the torch k-means against sklearn's, float16 memory maps and the repetition summary."""

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import mutual_info_score
from threadpoolctl import threadpool_limits

from speechrep.analysis.mutual_information import (
    ClusterMutualInformation,
    count_distinct_rows,
    entropy,
    mi_over_seeds,
    mutual_information,
    normalised_mutual_information,
    torch_kmeans,
)


@pytest.fixture(autouse=True)
def one_thread():
    """These problems are tiny: one thread avoids OpenMP spin-waits on a shared, busy CPU (100x here)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)


def separated_blobs(n_per_class: int, num_classes: int = 6, dim: int = 8, seed: int = 0):
    """Classes around 20 * e_c: 28 apart, within-class radius about sqrt(dim)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), n_per_class)
    centres = 20.0 * np.eye(num_classes, dim)
    x = centres[labels] + rng.standard_normal((len(labels), dim))
    order = rng.permutation(len(labels))
    return x[order].astype(np.float32), np.array([f"ph{c}" for c in labels[order]])


def inertia(x: np.ndarray, centres: np.ndarray) -> float:
    d = ((x[:, None, :].astype(np.float64) - centres[None].astype(np.float64)) ** 2).sum(-1)
    return float(d.min(axis=1).sum())


def test_hand_computed_contingency_table():
    clusters = [0, 0, 1, 1, 1, 2]
    labels = ["a", "a", "a", "b", "b", "b"]
    # cells (0,a)=2, (1,a)=1, (1,b)=2, (2,b)=1; n_c = 2, 3, 1; n_y = 3, 3; N = 6
    expected = (
        2 / 6 * math.log(2 * 6 / (2 * 3))
        + 1 / 6 * math.log(1 * 6 / (3 * 3))
        + 2 / 6 * math.log(2 * 6 / (3 * 3))
        + 1 / 6 * math.log(1 * 6 / (1 * 3))
    )
    assert mutual_information(clusters, labels) == pytest.approx(expected, rel=1e-14)
    assert mutual_information(clusters, labels) == pytest.approx(
        mutual_info_score(clusters, labels), rel=1e-14
    )
    assert entropy(labels) == pytest.approx(math.log(2), rel=1e-15)
    assert normalised_mutual_information(clusters, labels) == pytest.approx(expected / math.log(2), rel=1e-14)


def test_identity_relabelling_and_sklearn_on_random_tables():
    rng = np.random.default_rng(0)
    labels = rng.choice(np.array(["aa", "b", "ccc", "d", "e"]), 3000)
    assert mutual_information(labels, labels) == pytest.approx(entropy(labels), rel=1e-12)
    assert normalised_mutual_information(labels, labels) == pytest.approx(1.0, rel=1e-12)
    clusters = rng.integers(0, 40, 3000) + (labels == "b") * 40
    score = normalised_mutual_information(clusters, labels)
    assert mutual_information(clusters, labels) == pytest.approx(
        mutual_info_score(clusters, labels), rel=1e-12
    )
    permutation = rng.permutation(80) + 1000
    assert normalised_mutual_information(permutation[clusters], labels) == pytest.approx(score, rel=1e-12)
    with pytest.raises(ValueError, match="single value"):
        normalised_mutual_information(clusters, np.zeros(3000))
    with pytest.raises(ValueError, match="differ in length"):
        mutual_information(clusters[:10], labels)


@pytest.mark.parametrize("backend", ["sklearn", "torch"])
def test_perfect_clusters_score_one_and_relabelling_does_not_matter(backend):
    train_x, _ = separated_blobs(100, seed=0)
    test_x, test_y = separated_blobs(50, seed=1)
    estimator = ClusterMutualInformation(n_clusters=6, batch_size=200, seed=0, backend=backend, device=None)
    estimator.fit(train_x)
    assert estimator.backend_ == backend and estimator.n_clusters_ == 6
    assert estimator.score(test_x, test_y) == pytest.approx(1.0, abs=1e-12)
    clusters = estimator.predict(test_x)
    shuffled = np.random.default_rng(2).permutation(6)[clusters]
    assert normalised_mutual_information(shuffled, test_y) == pytest.approx(1.0, abs=1e-12)


def test_independent_labels_score_near_zero_and_relabelling_is_exact():
    rng = np.random.default_rng(0)
    train_x = rng.standard_normal((3000, 4)).astype(np.float32)
    test_x = rng.standard_normal((20000, 4)).astype(np.float32)
    test_y = rng.integers(0, 5, 20000)
    estimator = ClusterMutualInformation(n_clusters=20, batch_size=500, seed=0).fit(train_x)
    score = estimator.score(test_x, test_y)
    assert 0.0 <= score < 0.05  # plug-in bias ~ 19 * 4 / (2 * 20000) nats / log 5
    permutation = rng.permutation(20)
    relabelled = normalised_mutual_information(permutation[estimator.predict(test_x)], test_y)
    assert relabelled == pytest.approx(score, rel=1e-12)


@pytest.mark.parametrize("separation", [10.0, 0.0])  # ten blobs 14 apart; one structureless Gaussian
def test_torch_kmeans_reaches_sklearn_inertia(separation):
    rng = np.random.default_rng(0)
    x = separation * np.eye(10)[rng.integers(0, 10, 3000)] + rng.standard_normal((3000, 10))
    x = x.astype(np.float32)
    common = dict(n_clusters=10, batch_size=300, seed=0)
    reference = ClusterMutualInformation(backend="sklearn", **common).fit(x)
    fitted = ClusterMutualInformation(backend="torch", device="cpu", chunk_rows=256, **common).fit(x)
    assert fitted.backend_ == "torch" and fitted.device_ == "cpu" and fitted.n_iter_ > 1
    ours, theirs = inertia(x, fitted.cluster_centers_), inertia(x, reference.cluster_centers_)
    assert 0.95 * theirs < ours < 1.02 * theirs  # full-batch Lloyd is at least as good as mini-batches
    assert fitted.inertia_ == pytest.approx(ours, rel=1e-4)
    nearest = ((x[:, None] - fitted.cluster_centers_[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(fitted.predict(x), nearest)  # chunked assignment = one-shot


def test_torch_kmeans_moves_an_empty_cluster():
    x, y = separated_blobs(60, num_classes=3, dim=3, seed=4)
    far_away = torch.tensor([[20.0, 0, 0], [0, 20.0, 0], [500.0, 500.0, 500.0]])  # third gets no rows
    centres, total, _ = torch_kmeans(torch.from_numpy(x), 3, init=far_away, chunk_rows=50)
    clusters = ((x[:, None] - centres.numpy()[None]) ** 2).sum(-1).argmin(1)
    # the empty centre moved to the farthest row (in the third blob), and Lloyd split the blobs
    assert normalised_mutual_information(clusters, y) == pytest.approx(1.0, abs=1e-12)
    class_means = np.stack([x[y == label].mean(0) for label in np.unique(y)])
    assert total == pytest.approx(inertia(x, class_means), rel=1e-5)


def test_float16_memmap_input_is_converted_chunkwise(tmp_path):
    x, y = separated_blobs(80, seed=5)
    np.save(tmp_path / "layer.npy", x.astype(np.float16))
    mapped = np.load(tmp_path / "layer.npy", mmap_mode="r")
    from_map = ClusterMutualInformation(n_clusters=6, batch_size=100, chunk_rows=37).fit(mapped)
    from_array = ClusterMutualInformation(n_clusters=6, batch_size=100).fit(np.asarray(mapped, np.float32))
    np.testing.assert_array_equal(from_map.cluster_centers_, from_array.cluster_centers_)
    np.testing.assert_array_equal(from_map.predict(mapped), from_array.predict(mapped.astype(np.float32)))
    assert from_map.score(mapped, y) == pytest.approx(1.0, abs=1e-12)


def test_clamps_to_distinct_rows_and_refuses_misuse():
    x, _ = separated_blobs(2, num_classes=4, dim=4)
    repeated = np.repeat(x, 5, axis=0)  # 8 distinct rows, 40 in all
    assert count_distinct_rows(repeated) == 8
    assert count_distinct_rows(np.array([[0.0, 1.0], [-0.0, 1.0]])) == 1
    for backend in ("sklearn", "torch"):
        with pytest.warns(UserWarning, match="8 distinct training rows"):
            estimator = ClusterMutualInformation(n_clusters=20, batch_size=10, backend=backend).fit(repeated)
        assert estimator.n_clusters_ == 8 and estimator.cluster_centers_.shape == (8, 4)
    with pytest.raises(NotFittedError):
        ClusterMutualInformation().predict(x)
    with pytest.raises(ValueError, match="features"):
        estimator.predict(x[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        ClusterMutualInformation(n_clusters=2).fit(np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ValueError, match="backend"):
        ClusterMutualInformation(backend="faiss").fit(x)
    assert "n_clusters=7" in repr(ClusterMutualInformation(n_clusters=7))
    assert clone(ClusterMutualInformation(n_clusters=7, seed=3)).get_params()["seed"] == 3
    automatic = ClusterMutualInformation(n_clusters=4, batch_size=10, device="auto").fit(x)
    assert automatic.backend_ == ("torch" if torch.cuda.is_available() else "sklearn")


def test_mi_over_seeds_summarises_seeded_repetitions():
    x, _ = separated_blobs(60, seed=6)
    test_x, test_y = separated_blobs(40, seed=7)
    result = mi_over_seeds(x, test_x, test_y, seeds=[0, 1, 2], n_clusters=12, batch_size=100)
    assert len(result.per_seed) == 3 and result.seeds == (0, 1, 2)
    assert result.mean == pytest.approx(np.mean(result.per_seed))
    assert result.std == pytest.approx(np.std(result.per_seed, ddof=1))
    assert result.n_clusters == 12
    assert result.sizes == {"train_rows": 360, "test_rows": 240, "test_labels": 6}
    assert all(0.9 < s <= 1.0 + 1e-12 for s in result.per_seed)  # 12 clusters split 6 classes
    single = ClusterMutualInformation(n_clusters=12, batch_size=100, seed=1).fit(x).score(test_x, test_y)
    assert result.per_seed[1] == pytest.approx(single, rel=1e-12)
    with pytest.raises(ValueError, match="labels"):
        mi_over_seeds(x, test_x, test_y[:5], seeds=[0], n_clusters=6)
