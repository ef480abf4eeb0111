"""Cross-validated CCA, SVCCA and PWCCA scores: the protocol of Pasad et al. (2021, 2023), from statistics.

The protocol (``codes/tools/tools.py`` of ankitapasad/layerwise-analysis, made deterministic):

1. **Splits.** The n rows are split into ``num_splits`` = 10 disjoint parts covering every row
   (:func:`make_splits`). With labels, each label's rows are shuffled and dealt out evenly: every
   part gets floor(n_label / 10) of them and the n_label mod 10 leftovers go to distinct parts,
   those currently smallest (ties at random), so each label's count per part differs by at most one
   and so do the part sizes. The split is seeded and cached on disk under a content hash of
   (n, labels, seed, num_splits), so every layer of a model is scored on the same split.
2. **Trials.** A seeded permutation p of the parts gives disjoint (dev, test) pairs (p0, p1),
   (p2, p3), ...; a trial trains on the other ``num_splits`` - 2 parts (80/10/10). The first
   ``num_trials`` = 3 pairs for which some eps pair succeeds are used (the reference draws a new
   pair when every eps pair of a trial fails; so does this).
3. **Regularisation.** The eps pairs of ``eps_grid`` are tried in order and fitting stops after
   ``max_pairs`` successes; the pair with the best dev score (the first on ties) is kept and its
   test score reported. :data:`REFERENCE_EPS_GRID` is the reference's grid made explicit: the nine
   pairs of {1e-11, 1e-10, 1e-9}^2 first (eps_x major, ascending), then the sixteen pairs of
   {1e-8, 1e-7, 1e-6, 1e-5}^2 used only when earlier pairs fail. The reference shuffles each block
   (unseeded) and stops after 6 successes, i.e. it tries a random 6 of the 9 primary pairs; the
   default ``max_pairs`` = 9 tries all of them (each extra pair costs one small eigendecomposition
   here), and ``max_pairs=6`` reproduces the reference's count.
4. **Score.** The layer score is the mean of the trials' test scores. Held-out blocks are centred
   with their own means, as in the reference. In-sample (training) scores of the chosen pairs are
   reported too, for diagnosis only: they are inflated when n is not much larger than the dims.

**Computation.** One streaming pass over row chunks accumulates each split's sufficient statistics
(:class:`SplitStatistics`: count, sums and cross-products). A trial's training statistics are the
sum over its 8 training splits; per trial and view, one eigendecomposition of the scaled training
covariance serves every eps, (Sigma + eps I)^-1/2 = V diag((lam + eps)^-1/2) V^T; dev and test
scores come from the dev and test splits' own statistics (canonical correlations
(A^T S_xy B)_ii / sqrt((A^T S_xx A)_ii (B^T S_yy B)_ii), PWCCA weights from A^T S_xx and a Cholesky
factor of A^T S_xx A), with no second pass over the data. See :mod:`speechrep.analysis.cca` for the
formulas. The reference instead refits the covariance from the data for every eps pair and trial.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechrep.analysis.cca import (
    DEFAULT_CHUNK_ROWS,
    METHODS,
    NULL_TOL,
    CCASolver,
    Method,
    Moments,
    PairFailure,
    accumulate_moments,
    check_view,
    resolve_device,
    sum_moments,
)
from speechrep.utils.io import atomic_save_npy

REFERENCE_EPSILONS: tuple[float, ...] = (1e-11, 1e-10, 1e-9)
FALLBACK_EPSILONS: tuple[float, ...] = (1e-8, 1e-7, 1e-6, 1e-5)
REFERENCE_EPS_GRID: tuple[tuple[float, float], ...] = tuple(
    (ex, ey) for ex in REFERENCE_EPSILONS for ey in REFERENCE_EPSILONS
) + tuple((ex, ey) for ex in FALLBACK_EPSILONS for ey in FALLBACK_EPSILONS)
_SPLITS_VERSION = 1


# --------------------------------------------------------------------------------------------------
# Splits


def make_splits(
    n: int,
    labels: Sequence[Any] | np.ndarray | None = None,
    num_splits: int = 10,
    seed: int = 0,
    *,
    cache_dir: str | Path | None = None,
) -> list[np.ndarray]:
    """``num_splits`` disjoint sorted index arrays covering ``range(n)``, stratified by ``labels``.

    Each label's rows are dealt evenly over the parts (counts per part differ by at most one), the
    leftovers going to the currently smallest parts, so part sizes differ by at most one too. The
    result depends only on (n, labels, num_splits, seed). With ``cache_dir`` the assignment is
    stored atomically as ``splits-<hash>.npy``, keyed by a SHA-256 of those four, and reused.
    """
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if num_splits < 2 or num_splits > n:
        raise ValueError(f"need 2 <= num_splits <= n, got num_splits={num_splits}, n={n}")
    if int(seed) < 0:
        raise ValueError("seed must be non-negative")
    codes, labels_digest = _encode_labels(labels, n)
    path = None
    if cache_dir is not None:
        key = json.dumps(
            {
                "version": _SPLITS_VERSION,
                "n": int(n),
                "labels": labels_digest,
                "seed": int(seed),
                "num_splits": num_splits,
            },
            sort_keys=True,
        )
        path = Path(cache_dir) / f"splits-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"
        cached = _read_assignment(path, n, num_splits)
        if cached is not None:
            return _parts(cached, num_splits)
    assignment = _stratified_assignment(codes, num_splits, np.random.default_rng([int(seed), 1]))
    if path is not None:
        atomic_save_npy(path, assignment)
    return _parts(assignment, num_splits)


def _encode_labels(labels: Sequence[Any] | np.ndarray | None, n: int) -> tuple[np.ndarray, str]:
    """Integer codes (in sorted label order) and a digest of the labels row by row."""
    if labels is None:
        return np.zeros(n, dtype=np.int64), "none"
    values = np.asarray(labels)
    if values.shape != (n,):
        raise ValueError(f"labels must be one per row: expected shape ({n},), got {values.shape}")
    try:
        uniques, codes = np.unique(values, return_inverse=True)
    except TypeError:  # mixed types: order by a typed string form
        values = np.asarray([f"{type(v).__name__}:{v}" for v in values.tolist()])
        uniques, codes = np.unique(values, return_inverse=True)
    digest = hashlib.sha256()
    digest.update(json.dumps([f"{type(u).__name__}:{u}" for u in uniques.tolist()]).encode())
    digest.update(codes.astype(np.int64).tobytes())
    return codes.astype(np.int64), digest.hexdigest()


def _stratified_assignment(codes: np.ndarray, num_splits: int, rng: np.random.Generator) -> np.ndarray:
    assignment = np.empty(len(codes), dtype=np.int64)
    sizes = np.zeros(num_splits, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes))])
    for start, stop in itertools.pairwise(bounds):
        rows = rng.permutation(order[start:stop])
        per_part, leftover = divmod(len(rows), num_splits)
        assignment[rows[: per_part * num_splits]] = np.repeat(np.arange(num_splits), per_part)
        sizes += per_part
        if leftover:
            smallest = np.lexsort((rng.random(num_splits), sizes))[:leftover]
            assignment[rows[per_part * num_splits :]] = smallest
            sizes[smallest] += 1
    return assignment


def _read_assignment(path: Path, n: int, num_splits: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        assignment = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    valid = (
        assignment.shape == (n,)
        and np.issubdtype(assignment.dtype, np.integer)
        and assignment.min() >= 0
        and assignment.max() < num_splits
        and len(np.unique(assignment)) == num_splits
    )
    return assignment.astype(np.int64) if valid else None


def _parts(assignment: np.ndarray, num_splits: int) -> list[np.ndarray]:
    order = np.argsort(assignment, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(assignment, minlength=num_splits))])
    return [order[bounds[s] : bounds[s + 1]] for s in range(num_splits)]


def trial_pairs(num_splits: int, seed: int) -> list[tuple[int, int]]:
    """Disjoint (dev, test) split pairs in the order trials use them (a seeded permutation)."""
    perm = np.random.default_rng([int(seed), 2]).permutation(num_splits)
    return [(int(perm[2 * i]), int(perm[2 * i + 1])) for i in range(num_splits // 2)]


# --------------------------------------------------------------------------------------------------
# Statistics


@dataclass(frozen=True, eq=False)
class SplitStatistics:
    """Per-split sufficient statistics (count, sums, cross-products) from one streaming pass."""

    splits: tuple[Moments, ...]

    @classmethod
    def from_arrays(
        cls,
        x: Any,
        y: Any,
        splits: Sequence[np.ndarray],
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        device: str | torch.device | None = None,
    ) -> SplitStatistics:
        """Accumulate every split's moments in ONE pass over ``chunk_rows`` rows at a time.

        ``x`` and ``y`` may be float16 memmaps: only one chunk is converted to float64 at a time.
        Rows in no split are left out; a row in two splits is an error.
        """
        x, y = check_view(x, "x"), check_view(y, "y")
        n = x.shape[0]
        assignment = np.full(n, -1, dtype=np.int64)
        for s, rows in enumerate(splits):
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size == 0:
                raise ValueError(f"split {s} is empty")
            if rows.min() < 0 or rows.max() >= n:
                raise ValueError(f"split {s} indexes rows outside [0, {n})")
            if np.any(assignment[rows] != -1) or len(np.unique(rows)) != len(rows):
                raise ValueError(f"split {s} overlaps another split")
            assignment[rows] = s
        moments = accumulate_moments(x, y, assignment, len(splits), chunk_rows=chunk_rows, device=device)
        return cls(tuple(moments))

    @property
    def num_splits(self) -> int:
        return len(self.splits)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(m.count for m in self.splits)

    @property
    def dims(self) -> tuple[int, int]:
        return self.splits[0].dims

    def combine(self, indices: Sequence[int]) -> Moments:
        """Moments of the union of the given splits (sums of their statistics)."""
        return sum_moments([self.splits[i] for i in indices])


# --------------------------------------------------------------------------------------------------
# Protocol


@dataclass(frozen=True)
class CCAResult:
    """A cross-validated score and everything needed to trace it."""

    score: float  # mean of test_scores: the number to report
    method: str
    test_scores: tuple[float, ...]  # per trial, chosen eps pair, held-out test split
    dev_scores: tuple[float, ...]  # per trial, chosen eps pair, dev split
    train_scores: tuple[float, ...]  # per trial, chosen eps pair, in-sample (inflated; diagnosis only)
    eps_pairs: tuple[tuple[float, float], ...]  # chosen (eps_x, eps_y) per trial
    trials: tuple[tuple[int, int], ...]  # (dev split, test split) per trial
    sizes: tuple[tuple[int, int, int], ...]  # (train, dev, test) rows per trial
    components: tuple[int, ...]  # canonical directions k per trial
    dev_grid: tuple[tuple[tuple[float, float, float], ...], ...]  # per trial: (eps_x, eps_y, dev score)
    failures: tuple[tuple[int, int, float, float, str], ...]  # (dev, test, eps_x, eps_y, reason) skipped
    seed: int
    num_splits: int
    num_rows: int
    dims: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cross_validated_score(
    x: Any,
    y: Any,
    labels: Sequence[Any] | np.ndarray | None = None,
    method: Method = "pwcca",
    eps_grid: Sequence[tuple[float, float]] = REFERENCE_EPS_GRID,
    *,
    max_pairs: int | None = 9,
    num_trials: int = 3,
    num_splits: int = 10,
    seed: int = 0,
    splits: Sequence[np.ndarray] | None = None,
    cache_dir: str | Path | None = None,
    variance_kept: float = 0.99,
    null_tol: float = NULL_TOL,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    device: str | torch.device | None = None,
) -> CCAResult:
    """Held-out CCA / SVCCA / PWCCA similarity of two views under the reference protocol.

    ``x`` (n, d_x) and ``y`` (n, d_y) are paired rows (arrays or float16 memmaps, read once in
    chunks); ``labels`` (n,) stratify the splits. ``splits`` overrides :func:`make_splits` (pass the
    same splits for every layer; ``cache_dir`` caches them on disk). ``device`` None uses CUDA when
    available. See the module docstring for the protocol and :class:`CCAResult` for the output.
    """
    x, y = check_view(x, "x"), check_view(y, "y")
    if splits is None:
        splits = make_splits(x.shape[0], labels, num_splits, seed, cache_dir=cache_dir)
    stats = SplitStatistics.from_arrays(x, y, splits, chunk_rows=chunk_rows, device=resolve_device(device))
    return cross_validated_score_from_statistics(
        stats,
        method,
        eps_grid,
        max_pairs=max_pairs,
        num_trials=num_trials,
        seed=seed,
        variance_kept=variance_kept,
        null_tol=null_tol,
    )


def cross_validated_score_from_statistics(
    stats: SplitStatistics,
    method: Method = "pwcca",
    eps_grid: Sequence[tuple[float, float]] = REFERENCE_EPS_GRID,
    *,
    max_pairs: int | None = 9,
    num_trials: int = 3,
    seed: int = 0,
    variance_kept: float = 0.99,
    null_tol: float = NULL_TOL,
) -> CCAResult:
    """The protocol on precomputed split statistics (score several methods from one pass)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    eps_grid = [(float(ex), float(ey)) for ex, ey in eps_grid]
    if not eps_grid:
        raise ValueError("eps_grid is empty")
    if max_pairs is not None and max_pairs < 1:
        raise ValueError("max_pairs must be positive (or None for the whole grid)")
    num_splits = stats.num_splits
    if not 1 <= num_trials <= num_splits // 2:
        raise ValueError(f"num_trials must lie in [1, {num_splits // 2}] for {num_splits} splits")
    trials, failures = [], []
    for dev, test in trial_pairs(num_splits, seed):
        if len(trials) == num_trials:
            break
        outcome, failed = _run_trial(stats, dev, test, method, eps_grid, max_pairs, variance_kept, null_tol)
        failures.extend(failed)
        if outcome is not None:
            trials.append(outcome)
    if len(trials) < num_trials:
        raise RuntimeError(
            f"only {len(trials)} of {num_trials} trials found a working eps pair; "
            f"failures: {list(dict.fromkeys(f[-1] for f in failures))[:5]}"
        )
    test_scores = tuple(t["test"] for t in trials)
    return CCAResult(
        score=float(np.mean(test_scores)),
        method=method,
        test_scores=test_scores,
        dev_scores=tuple(t["dev"] for t in trials),
        train_scores=tuple(t["train"] for t in trials),
        eps_pairs=tuple(t["eps"] for t in trials),
        trials=tuple(t["split"] for t in trials),
        sizes=tuple(t["sizes"] for t in trials),
        components=tuple(t["k"] for t in trials),
        dev_grid=tuple(t["grid"] for t in trials),
        failures=tuple(failures),
        seed=int(seed),
        num_splits=num_splits,
        num_rows=sum(stats.sizes),
        dims=stats.dims,
    )


def _run_trial(
    stats: SplitStatistics,
    dev: int,
    test: int,
    method: Method,
    eps_grid: list[tuple[float, float]],
    max_pairs: int | None,
    variance_kept: float,
    null_tol: float,
) -> tuple[dict[str, Any] | None, list[tuple[int, int, float, float, str]]]:
    """Fit every eps pair on the training splits, pick one on dev, score it on test."""
    train = stats.combine([s for s in range(stats.num_splits) if s not in (dev, test)])
    failures: list[tuple[int, int, float, float, str]] = []
    try:
        solver = CCASolver(train, method, variance_kept=variance_kept, null_tol=null_tol)
    except PairFailure as error:
        return None, [(dev, test, ex, ey, str(error)) for ex, ey in eps_grid]
    fitted = []  # (dev score, solution)
    for ex, ey in eps_grid:
        try:
            solution = solver.solve(ex, ey)
            fitted.append((solver.evaluate(solution, stats.splits[dev], key="dev").score, solution))
        except (PairFailure, torch.linalg.LinAlgError) as error:
            failures.append((dev, test, ex, ey, str(error)))
            continue
        if max_pairs is not None and len(fitted) == max_pairs:
            break
    if not fitted:
        return None, failures
    best = int(np.argmax([score for score, _ in fitted]))
    dev_score, chosen = fitted[best]
    try:
        test_score = solver.evaluate(chosen, stats.splits[test], key="test").score
        train_score = solver.evaluate(chosen, train, key="train").score
    except PairFailure as error:
        failures.append((dev, test, chosen.eps_x, chosen.eps_y, f"scoring: {error}"))
        return None, failures
    return {
        "test": test_score,
        "dev": dev_score,
        "train": train_score,
        "eps": (chosen.eps_x, chosen.eps_y),
        "split": (dev, test),
        "sizes": (train.count, stats.splits[dev].count, stats.splits[test].count),
        "k": chosen.num_components,
        "grid": tuple((s.eps_x, s.eps_y, score) for score, s in fitted),
    }, failures
