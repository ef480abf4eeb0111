"""Mutual information between k-means clusters of a layer's features and phone or word labels.

The MI probe of Pasad et al. 2023 ("Comparative layer-wise analysis of self-supervised speech
models", ICASSP; after Pasad et al. 2021, ASRU): k-means is fitted on one split's segment features
of a layer (train-clean), every segment of another split (dev-clean) is assigned to its nearest
centre, and the discrete clusters C are scored against the labels Y by

    I(C; Y) / H(Y),
    I(C; Y) = sum_{c,y} p(c, y) log[ p(c, y) / (p(c) p(y)) ],   H(Y) = -sum_y p(y) log p(y),

with empirical probabilities p(c, y) = n_cy / N from the contingency table, in nats. It lies in
[0, 1]: 1 when the clusters determine the label, about 0 when they are independent of it (the
plug-in estimate is biased upwards by roughly (K - 1)(|Y| - 1) / (2N) nats), and it does not
change when cluster ids are permuted. (Theil's uncertainty coefficient U(Y|C); not the symmetric
"NMI" of sklearn's ``normalized_mutual_info_score``.) Defaults follow the paper: K = 500 clusters
for phones and 5000 for words, mini-batches of 1500 (phones) or 4000 (words), at most 500
iterations, and several seeded repetitions (:func:`mi_over_seeds`).

Two k-means backends:

* ``"sklearn"``: :class:`sklearn.cluster.MiniBatchKMeans` (k-means++ seeding, ``n_init`` seedings
  scored on a subsample, mini-batch updates), ``random_state=seed``; CPU.
* ``"torch"``: k-means++ seeding (greedy, 2 + ln K candidates per step, ``n_init`` seedings on a
  subsample of ``max(3 * batch_size, 3 * K)`` rows, the lowest-inertia one kept), then full-batch
  Lloyd iterations whose distance matrix is computed ``chunk_rows`` rows at a time, so memory stays
  at O(chunk_rows * K) beyond the data; empty clusters are moved to the rows farthest from their
  centre. Stops when the total squared centre shift is at most ``tol`` times the mean feature
  variance (sklearn's ``KMeans`` rule) or the assignment no longer changes. Runs on any torch
  device: picked automatically for a CUDA device.

Features usually arrive as float16 memory maps (:meth:`speechrep.store.FeatureStore.features`);
they are converted to float32 ``chunk_rows`` rows at a time.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.cluster import MiniBatchKMeans
from sklearn.exceptions import NotFittedError

#: Rows converted or compared at a time.
CHUNK_ROWS = 16384

BACKENDS = ("auto", "sklearn", "torch")


# -- the information-theoretic part, on plain label arrays ------------------------------------------
def _codes(values: ArrayLike, name: str) -> tuple[np.ndarray, int]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {array.shape}")
    uniques, codes = np.unique(array, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), len(uniques)


def entropy(labels: ArrayLike) -> float:
    """H(Y) = -sum_y p(y) log p(y) in nats, with p(y) the empirical label frequencies."""
    codes, _ = _codes(labels, "labels")
    if len(codes) == 0:
        raise ValueError("entropy of an empty label array is undefined")
    p = np.bincount(codes) / len(codes)
    return float(-np.sum(p * np.log(p)))


def mutual_information(clusters: ArrayLike, labels: ArrayLike) -> float:
    """I(C; Y) in nats from the contingency table of two labelings of the same rows.

    I = sum_{c,y: n_cy > 0} (n_cy / N) [log n_cy + log N - log n_c - log n_y]; equal to
    ``sklearn.metrics.mutual_info_score(clusters, labels)``. Only the non-empty cells are built
    (O(N) memory even for 5000 clusters x 500 words).
    """
    c, _ = _codes(clusters, "clusters")
    y, num_labels = _codes(labels, "labels")
    if len(c) != len(y):
        raise ValueError(f"clusters and labels differ in length: {len(c)} vs {len(y)}")
    if len(c) == 0:
        raise ValueError("mutual information of empty arrays is undefined")
    n = len(c)
    cells, n_cy = np.unique(c * num_labels + y, return_counts=True)
    n_c = np.bincount(c)[cells // num_labels]
    n_y = np.bincount(y)[cells % num_labels]
    terms = n_cy / n * (np.log(n_cy) + math.log(n) - np.log(n_c) - np.log(n_y))
    return max(float(terms.sum()), 0.0)


def normalised_mutual_information(clusters: ArrayLike, labels: ArrayLike) -> float:
    """I(C; Y) / H(Y): the fraction of the label entropy explained by the clusters, in [0, 1].

    Raises ``ValueError`` when the labels take a single value (H(Y) = 0, the ratio is undefined).
    """
    h = entropy(labels)
    if h == 0.0:
        raise ValueError("labels take a single value: H(Y) = 0 and I(C;Y)/H(Y) is undefined")
    return mutual_information(clusters, labels) / h


# -- input handling --------------------------------------------------------------------------------
def _check_2d(X: Any) -> np.ndarray:
    array = X if isinstance(X, np.ndarray) else np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"features must be 2-d (rows, dim), got shape {array.shape}")
    if len(array) == 0:
        raise ValueError("features have no rows")
    return array


def _chunks(n: int, size: int) -> Iterable[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(start + size, n)


def as_float32(X: ArrayLike, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """A 2-d array as in-memory, C-contiguous float32, converted ``chunk_rows`` rows at a time.

    A float16 memory map is copied chunk by chunk (no float64 intermediate); a C-contiguous float32
    ndarray is returned as is. Rejects NaN or infinite values.
    """
    array = _check_2d(X)
    if array.dtype == np.float32 and type(array) is np.ndarray and array.flags.c_contiguous:
        if not np.isfinite(array).all():
            raise ValueError("features contain NaN or infinite values")
        return array
    out = np.empty(array.shape, dtype=np.float32)
    for start, stop in _chunks(len(array), chunk_rows):
        out[start:stop] = array[start:stop]
        if not np.isfinite(out[start:stop]).all():
            raise ValueError(f"features contain NaN or infinite values (rows {start}..{stop - 1})")
    return out


def count_distinct_rows(X: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> int:
    """Number of distinct rows, from a 128-bit hash of each row's float32 bits.

    Two independent multiplicative hashes modulo 2^64 over the rows' 32-bit patterns (with -0.0
    folded into 0.0); collisions between distinct rows are vanishingly unlikely.
    """
    array = _check_2d(X)
    rng = np.random.default_rng(0x5EED)
    odd = rng.integers(0, 2**63, size=(array.shape[1], 2), dtype=np.uint64)
    multipliers = odd * np.uint64(2) + np.uint64(1)  # odd 64-bit multipliers
    hashes = np.empty((len(array), 2), dtype=np.uint64)
    for start, stop in _chunks(len(array), chunk_rows):
        rows = np.asarray(array[start:stop], dtype=np.float32) + np.float32(0.0)  # -0.0 -> 0.0
        bits = rows.view(np.uint32).astype(np.uint64)
        hashes[start:stop] = bits @ multipliers  # wraps modulo 2^64
    return len(np.unique(hashes, axis=0))


def resolve_device(device: str | torch.device | None) -> torch.device | None:
    """``None`` -> None (CPU, sklearn); ``"auto"`` -> CUDA when available, else None; else that device."""
    if device is None:
        return None
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else None
    return torch.device(device)


# -- the torch k-means -----------------------------------------------------------------------------
def _squared_distances(x: torch.Tensor, centres: torch.Tensor, centre_norms: torch.Tensor) -> torch.Tensor:
    """||x_i - c_j||^2 = ||x_i||^2 - 2 x_i.c_j + ||c_j||^2, clamped at 0, shape (rows, K)."""
    d = (x * x).sum(dim=1, keepdim=True) - 2.0 * (x @ centres.T) + centre_norms[None, :]
    return d.clamp_(min=0.0)


def _assign(data: torch.Tensor, centres: torch.Tensor, chunk_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre and its squared distance for every row, ``chunk_rows`` rows at a time."""
    n = data.shape[0]
    labels = torch.empty(n, dtype=torch.int64, device=data.device)
    distances = torch.empty(n, dtype=torch.float32, device=data.device)
    centre_norms = (centres * centres).sum(dim=1)
    for start, stop in _chunks(n, chunk_rows):
        d = _squared_distances(data[start:stop], centres, centre_norms)
        distances[start:stop], labels[start:stop] = d.min(dim=1)
    return labels, distances


def _kmeans_plus_plus(sample: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ (Arthur & Vassilvitskii 2007): each new centre is the best of 2 + ln k
    candidates drawn with probability proportional to D(x)^2, best = lowest resulting potential."""
    n, dim = sample.shape
    device = sample.device
    trials = 2 + int(math.log(k))
    norms = (sample * sample).sum(dim=1)
    centres = torch.empty((k, dim), dtype=sample.dtype, device=device)
    first = torch.randint(n, (1,), generator=generator, device=device)
    centres[0] = sample[first[0]]
    closest = _squared_distances(sample, centres[:1], norms[first]).squeeze(1)
    for j in range(1, k):
        cumulative = torch.cumsum(closest, dim=0, dtype=torch.float64)
        draws = torch.rand(trials, generator=generator, device=device, dtype=torch.float64) * cumulative[-1]
        candidates = torch.searchsorted(cumulative, draws).clamp_(max=n - 1)
        to_candidates = _squared_distances(sample, sample[candidates], norms[candidates]).T  # (trials, n)
        potentials = torch.minimum(closest[None, :], to_candidates)
        best = potentials.sum(dim=1).argmin()
        closest = potentials[best]
        centres[j] = sample[candidates[best]]
    return centres


def torch_kmeans(
    data: torch.Tensor,
    n_clusters: int,
    *,
    max_iter: int = 500,
    n_init: int = 3,
    init_size: int | None = None,
    tol: float = 1e-4,
    seed: int = 0,
    chunk_rows: int = CHUNK_ROWS,
    init: torch.Tensor | None = None,
) -> tuple[torch.Tensor, float, int]:
    """k-means++ seeding then full-batch Lloyd on ``data`` (float32, on its device).

    Each of the ``n_init`` seedings runs on its own random subsample of ``init_size`` rows (default
    3 K) and is scored by its inertia on one shared validation subsample of that size; the best one
    starts Lloyd. ``init`` (K, dim) gives the starting centres instead. Returns
    ``(centres (K, dim), inertia, iterations)``, inertia = sum_i min_j ||x_i - c_j||^2 for the
    returned centres.
    """
    n, dim = data.shape
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be in [1, {n}], got {n_clusters}")
    device = data.device
    if init is not None:
        if tuple(init.shape) != (n_clusters, dim):
            raise ValueError(f"init must have shape {(n_clusters, dim)}, got {tuple(init.shape)}")
        centres = init.to(device=device, dtype=torch.float32)
    else:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        rng = np.random.default_rng(seed)
        size = min(n, init_size if init_size is not None else 3 * n_clusters)

        def subsample() -> torch.Tensor:
            return data[torch.from_numpy(np.sort(rng.choice(n, size=size, replace=False))).to(device)]

        validation = subsample()
        best_centres, best_inertia = None, math.inf
        for _ in range(max(1, n_init)):
            candidate = _kmeans_plus_plus(subsample(), n_clusters, generator)
            inertia = float(_assign(validation, candidate, chunk_rows)[1].sum(dtype=torch.float64))
            if inertia < best_inertia:
                best_centres, best_inertia = candidate, inertia
        assert best_centres is not None
        centres = best_centres

    mean = torch.zeros(dim, dtype=torch.float64, device=device)
    for start, stop in _chunks(n, chunk_rows):
        mean += data[start:stop].sum(dim=0, dtype=torch.float64)
    mean /= n
    variance = torch.zeros(dim, dtype=torch.float64, device=device)
    for start, stop in _chunks(n, chunk_rows):
        variance += ((data[start:stop].double() - mean) ** 2).sum(dim=0)
    threshold = tol * float(variance.mean() / n)

    previous = None
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        labels, distances = _assign(data, centres, chunk_rows)
        if previous is not None and torch.equal(labels, previous):
            break  # the update would reproduce the same centres
        previous = labels
        sums = torch.zeros((n_clusters, dim), dtype=torch.float64, device=device)
        for start, stop in _chunks(n, chunk_rows):
            sums.index_add_(0, labels[start:stop], data[start:stop].double())
        counts = torch.bincount(labels, minlength=n_clusters).double()
        empty = torch.nonzero(counts == 0).flatten()
        if len(empty):  # move them to the rows farthest from their centre (from clusters of > 1 row)
            movable = torch.where(counts[labels] > 1, distances, torch.full_like(distances, -1.0))
            far = torch.topk(movable, len(empty)).indices
            for cluster, row in zip(empty.tolist(), far.tolist(), strict=True):
                old = int(labels[row])
                sums[old] -= data[row].double()
                counts[old] -= 1
                sums[cluster] = data[row].double()
                counts[cluster] = 1
        new_centres = (sums / counts.clamp(min=1)[:, None]).float()
        shift = float(((new_centres - centres) ** 2).sum())
        centres = new_centres
        if shift <= threshold:
            break
    inertia = float(_assign(data, centres, chunk_rows)[1].sum(dtype=torch.float64))
    return centres, inertia, iterations


# -- the estimator ---------------------------------------------------------------------------------
@dataclass
class _Prepared:
    """Features converted once for a backend: float32 array (sklearn) or tensor on the device (torch)."""

    data: np.ndarray | torch.Tensor
    rows: int
    dim: int
    distinct: int | None = None


def _distinct(prepared: _Prepared, original: np.ndarray, chunk_rows: int) -> int:
    """Distinct training rows, counted on the in-memory float32 copy when there is one."""
    source = prepared.data if isinstance(prepared.data, np.ndarray) else original
    return count_distinct_rows(source, chunk_rows)


class ClusterMutualInformation(BaseEstimator):
    """k-means on one split's features; I(C;Y)/H(Y) of its clusters for another split's labels.

    Parameters
    ----------
    n_clusters: K (500 for phones, 5000 for words in the papers); clamped, with a warning, to the
        number of distinct training rows.
    batch_size: mini-batch size of MiniBatchKMeans (1500 phones, 4000 words); both backends seed
        k-means++ on ``max(3 * batch_size, 3 * K)`` rows.
    max_iter: iteration cap (mini-batch passes for sklearn, Lloyd iterations for torch).
    seed: the seed of every random step (``random_state`` for sklearn).
    device: ``None`` (CPU), ``"auto"`` (CUDA when available) or a torch device.
    backend: ``"auto"`` (torch on a CUDA device, sklearn otherwise), ``"sklearn"`` or ``"torch"``
        (on ``device``, CPU when it is None).
    n_init: k-means++ seedings tried, the best kept (sklearn's pre-1.4 MiniBatchKMeans default, 3).
    tol: torch backend's stopping rule, relative to the mean feature variance.
    chunk_rows: rows converted or compared at a time.

    Attributes after ``fit``: ``cluster_centers_`` (K, dim) float32, ``n_clusters_`` (K used),
    ``inertia_`` (training sum of squared distances to the nearest centre), ``n_iter_``,
    ``n_features_in_``, ``backend_``, ``device_``.
    """

    def __init__(
        self,
        n_clusters: int = 500,
        batch_size: int = 1500,
        max_iter: int = 500,
        seed: int = 0,
        device: str | torch.device | None = None,
        backend: str = "auto",
        n_init: int = 3,
        tol: float = 1e-4,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.n_clusters = n_clusters
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.seed = seed
        self.device = device
        self.backend = backend
        self.n_init = n_init
        self.tol = tol
        self.chunk_rows = chunk_rows

    # -- backend selection -------------------------------------------------------------------------
    def _backend(self) -> tuple[str, torch.device | None]:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        device = resolve_device(self.device)
        if self.backend == "sklearn":
            if device is not None and device.type != "cpu":
                raise ValueError(f"the sklearn backend runs on the CPU; got device {device}")
            return "sklearn", None
        if self.backend == "torch":
            return "torch", device if device is not None else torch.device("cpu")
        if device is not None and device.type == "cuda":
            return "torch", device
        return "sklearn", None

    def _prepare(self, X: ArrayLike, backend: str, device: torch.device | None) -> _Prepared:
        array = _check_2d(X)
        if backend == "sklearn":
            data: np.ndarray | torch.Tensor = as_float32(array, self.chunk_rows)
        else:
            assert device is not None
            data = torch.empty(array.shape, dtype=torch.float32, device=device)
            for start, stop in _chunks(len(array), self.chunk_rows):
                chunk = as_float32(array[start:stop], self.chunk_rows)
                data[start:stop] = torch.from_numpy(chunk).to(device)
        return _Prepared(data, array.shape[0], array.shape[1])

    # -- fitting and predicting --------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None) -> ClusterMutualInformation:
        """Fit k-means on ``X`` (rows, dim); ``y`` is ignored (present for sklearn pipelines)."""
        backend, device = self._backend()
        array = _check_2d(X)
        prepared = self._prepare(array, backend, device)
        prepared.distinct = _distinct(prepared, array, self.chunk_rows)
        return self._fit_prepared(prepared, backend, device)

    def _fit_prepared(
        self, prepared: _Prepared, backend: str, device: torch.device | None
    ) -> ClusterMutualInformation:
        if self.n_clusters < 1:
            raise ValueError(f"n_clusters must be positive, got {self.n_clusters}")
        k = self.n_clusters
        distinct = prepared.distinct if prepared.distinct is not None else prepared.rows
        if distinct < k:
            warnings.warn(
                f"n_clusters={k} exceeds the {distinct} distinct training rows; using {distinct} clusters",
                UserWarning,
                stacklevel=3,
            )
            k = distinct
        if backend == "sklearn":
            model = MiniBatchKMeans(
                n_clusters=k,
                batch_size=self.batch_size,
                max_iter=self.max_iter,
                n_init=self.n_init,
                random_state=self.seed,
            )
            model.fit(prepared.data)
            self.kmeans_: MiniBatchKMeans | None = model
            self.cluster_centers_ = np.asarray(model.cluster_centers_, dtype=np.float32)
            self.inertia_ = float(model.inertia_)
            self.n_iter_ = int(model.n_iter_)
        else:
            assert isinstance(prepared.data, torch.Tensor)
            centres, inertia, iterations = torch_kmeans(
                prepared.data,
                k,
                max_iter=self.max_iter,
                n_init=self.n_init,
                init_size=max(3 * self.batch_size, 3 * k),
                tol=self.tol,
                seed=self.seed,
                chunk_rows=self.chunk_rows,
            )
            self.kmeans_ = None
            self.cluster_centers_ = centres.cpu().numpy()
            self.inertia_ = inertia
            self.n_iter_ = iterations
        self.n_clusters_ = k
        self.n_features_in_ = prepared.dim
        self.backend_ = backend
        self.device_ = str(device) if device is not None else "cpu"
        return self

    def _check_fitted(self, dim: int) -> None:
        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError("this ClusterMutualInformation is not fitted yet: call fit(X_train) first")
        if dim != self.n_features_in_:
            raise ValueError(f"X has {dim} features, but the k-means was fitted on {self.n_features_in_}")

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Index of the nearest centre for each row of ``X``, int64 (rows,)."""
        array = _check_2d(X)
        self._check_fitted(array.shape[1])
        backend = self.backend_
        device = torch.device(self.device_) if backend == "torch" else None
        return self._predict_prepared(self._prepare(array, backend, device))

    def _predict_prepared(self, prepared: _Prepared) -> np.ndarray:
        self._check_fitted(prepared.dim)
        if self.backend_ == "sklearn":
            assert self.kmeans_ is not None and isinstance(prepared.data, np.ndarray)
            labels = np.empty(prepared.rows, dtype=np.int64)
            for start, stop in _chunks(prepared.rows, self.chunk_rows):
                labels[start:stop] = self.kmeans_.predict(prepared.data[start:stop])
            return labels
        assert isinstance(prepared.data, torch.Tensor)
        centres = torch.from_numpy(self.cluster_centers_).to(prepared.data.device)
        return _assign(prepared.data, centres, self.chunk_rows)[0].cpu().numpy()

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """I(C;Y)/H(Y) of the predicted clusters of ``X`` against its labels ``y`` (nats ratio)."""
        clusters = self.predict(X)
        if len(clusters) != len(np.asarray(y)):
            raise ValueError(f"X has {len(clusters)} rows but y has {len(np.asarray(y))} labels")
        return normalised_mutual_information(clusters, y)


# -- repetitions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MIResult:
    """I(C;Y)/H(Y) over seeded k-means repetitions."""

    mean: float
    std: float  # sample standard deviation over seeds (ddof = 1); 0 for a single seed
    per_seed: tuple[float, ...]
    n_clusters: int  # clusters actually used (after clamping to the distinct training rows)
    sizes: dict[str, int] = field(default_factory=dict)  # train_rows, test_rows, test_labels
    seeds: tuple[int, ...] = ()


def mi_over_seeds(
    train_X: ArrayLike,
    test_X: ArrayLike,
    test_y: ArrayLike,
    seeds: Iterable[int] = (0, 1, 2),
    *,
    n_clusters: int = 500,
    batch_size: int = 1500,
    max_iter: int = 500,
    device: str | torch.device | None = None,
    backend: str = "auto",
    n_init: int = 3,
    tol: float = 1e-4,
    chunk_rows: int = CHUNK_ROWS,
) -> MIResult:
    """Fit k-means on ``train_X`` once per seed and score ``test_X`` against ``test_y``.

    Both splits are converted (and the distinct training rows counted) once, not per seed.
    """
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("need at least one seed")
    train = _check_2d(train_X)
    test = _check_2d(test_X)
    labels = np.asarray(test_y)
    if len(labels) != len(test):
        raise ValueError(f"test_X has {len(test)} rows but test_y has {len(labels)} labels")
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"train and test dims differ: {train.shape[1]} vs {test.shape[1]}")
    template = ClusterMutualInformation(
        n_clusters, batch_size, max_iter, seeds[0], device, backend, n_init, tol, chunk_rows
    )
    chosen, resolved = template._backend()
    train_data = template._prepare(train, chosen, resolved)
    train_data.distinct = _distinct(train_data, train, chunk_rows)
    test_data = template._prepare(test, chosen, resolved)
    scores = []
    used = n_clusters
    for seed in seeds:
        estimator = ClusterMutualInformation(
            n_clusters, batch_size, max_iter, seed, device, backend, n_init, tol, chunk_rows
        )
        estimator._fit_prepared(train_data, chosen, resolved)
        used = estimator.n_clusters_
        scores.append(normalised_mutual_information(estimator._predict_prepared(test_data), labels))
    values = np.asarray(scores)
    return MIResult(
        mean=float(values.mean()),
        std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        per_seed=tuple(float(v) for v in values),
        n_clusters=used,
        sizes={"train_rows": len(train), "test_rows": len(test), "test_labels": len(np.unique(labels))},
        seeds=seeds,
    )
