"""Benchmark: cross-validated PWCCA from split statistics next to the reference's refit-per-eps procedure.

Both run the full protocol of Pasad et al. on the same synthetic views, splits, trials and eps grid:
10 splits, 3 trials of disjoint (dev, test) pairs training on the other 8 (144,000 training rows
at the default 180,000 rows), up to 6 eps pairs per trial from {1e-11, 1e-10, 1e-9}^2 (the
reference's count), eps chosen on dev, PWCCA reported on test.

* **baseline**: a straightforward float64 NumPy version of what the reference code does for every
  eps pair of every trial: ``np.cov`` of the stacked training views, scaling by max |entry|,
  removal of near-constant coordinates, ridge, ``pinv`` plus an ``eigh`` square root, SVD, then the
  in-sample PWCCA score of that fit (the reference computes and logs it with every fit), then dev
  scores of every fit and the test score of the chosen one from projected data and a QR. The only
  change to the reference's held-out scoring is the PWCCA weighting, computed on centred variates
  and neurons as in :mod:`speechrep.analysis.cca` (the reference adds neuron means before its QR),
  so that both sides compute the same number; its cost is the same.
* **ours**: :func:`speechrep.analysis.cca_protocol.cross_validated_score`: one streaming pass for
  per-split statistics, one eigendecomposition per trial and view, scores from statistics.

Before timing, both sides run once on a few thousand rows of the same dims (loading library code and
setting up LAPACK costs seconds on a first call). Ours is timed ``--repeats`` times (median
reported, all runs recorded); the baseline once. Prints each side's time, the ratio and the largest
|difference| between the per-trial test scores; ``--json`` also gets a time breakdown of each side
and the machine's load average (timings on a shared machine move with it).

    python scripts/bench/cca.py --device cpu                  # 180k rows: 768 vs 80 and 768 vs 768
    python scripts/bench/cca.py --quick                       # 18k rows: 256 vs 40 and 256 vs 256
    python scripts/bench/cca.py --sizes 768x768 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechrep.analysis.cca_protocol import (
    REFERENCE_EPS_GRID,
    SplitStatistics,
    cross_validated_score_from_statistics,
    make_splits,
    trial_pairs,
)
from speechrep.utils.provenance import environment_versions

# --------------------------------------------------------------------------------------------------
# Synthetic data


def synthetic_views(
    rows: int, dx: int, dy: int, seed: int = 0, latent: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Two float32 views sharing a ``latent``-dim Gaussian signal, with per-neuron scales and offsets."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((rows, latent))
    views = []
    for dim in (dx, dy):
        mixing = rng.standard_normal((latent, dim)) / np.sqrt(latent)
        noise_scale = np.exp(rng.normal(0.0, 0.5, dim))
        view = shared @ mixing
        view += rng.standard_normal((rows, dim)) * noise_scale
        view *= np.exp(rng.normal(0.0, 0.5, dim))  # neurons on different scales
        view += rng.normal(0.0, 3.0, dim)  # and offsets
        views.append(view.astype(np.float32))
    return views[0], views[1]


# --------------------------------------------------------------------------------------------------
# Baseline: the reference procedure, refitting from the data for every eps pair and trial


def _inverse_sqrt(matrix: np.ndarray) -> np.ndarray:
    """pinv, then the matrix square root by ``eigh`` (the reference's ``positivedef_matrix_sqrt``)."""
    inverse = np.linalg.pinv(matrix)
    w, v = np.linalg.eigh(inverse)
    return (v * np.sqrt(w)) @ v.T


def baseline_fit(view1: np.ndarray, view2: np.ndarray, eps_x: float, eps_y: float) -> tuple[np.ndarray, ...]:
    """One reference fit on (dim, rows) views: projection matrices (k_x, k_x), (k_y, k_y) and masks."""
    numx = view1.shape[0]
    cov = np.cov(view1, view2)
    sxx, sxy, syy = cov[:numx, :numx], cov[:numx, numx:], cov[numx:, numx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx, syy, sxy = sxx / xmax, syy / ymax, sxy / np.sqrt(xmax * ymax)
    keep_x = np.abs(np.diag(sxx)) >= eps_x
    keep_y = np.abs(np.diag(syy)) >= eps_y
    sxx = sxx[keep_x][:, keep_x] + eps_x * np.eye(keep_x.sum())
    syy = syy[keep_y][:, keep_y] + eps_y * np.eye(keep_y.sum())
    sxy = sxy[keep_x][:, keep_y]
    inv_sqrt_x, inv_sqrt_y = _inverse_sqrt(sxx), _inverse_sqrt(syy)
    u, _, vt = np.linalg.svd(inv_sqrt_x @ sxy @ inv_sqrt_y)
    return u.T @ inv_sqrt_x, vt @ inv_sqrt_y, keep_x, keep_y


def baseline_pwcca(
    view1: np.ndarray,
    view2: np.ndarray,
    proj_x: np.ndarray,
    proj_y: np.ndarray,
    keep_x: np.ndarray,
    keep_y: np.ndarray,
) -> float:
    """PWCCA of a fit on a block of (dim, rows) views, centred with the block's own means."""
    k = min(len(proj_x), len(proj_y))
    xc = view1[keep_x] - view1[keep_x].mean(axis=1, keepdims=True)
    yc = view2[keep_y] - view2[keep_y].mean(axis=1, keepdims=True)
    h, g = proj_x[:k] @ xc, proj_y[:k] @ yc
    rho = np.einsum("ij,ij->i", h, g) / np.sqrt(np.einsum("ij,ij->i", h, h) * np.einsum("ij,ij->i", g, g))
    variates, neurons = (h, xc) if len(proj_x) < len(proj_y) else (g, yc)
    q, _ = np.linalg.qr(variates.T)
    alpha = np.abs(q.T @ neurons.T).sum(axis=1)
    return float(np.sum(alpha / alpha.sum() * rho))


def baseline_protocol(
    x: np.ndarray,
    y: np.ndarray,
    splits: list[np.ndarray],
    trials: list[tuple[int, int]],
    grid,
    max_pairs: int,
) -> dict[str, Any]:
    """The reference's cross-validation loop; returns test scores, chosen eps and a time breakdown."""
    seconds = {"fit": 0.0, "in_sample_score": 0.0, "held_out_score": 0.0}
    tests, chosen = [], []
    for dev, test in trials:
        train = np.concatenate([splits[s] for s in range(len(splits)) if s not in (dev, test)])
        view1, view2 = x[train].T, y[train].T
        fits = []
        for eps_x, eps_y in grid:
            start = time.perf_counter()
            try:
                params = baseline_fit(view1, view2, eps_x, eps_y)
            except np.linalg.LinAlgError:
                continue
            seconds["fit"] += time.perf_counter() - start
            start = time.perf_counter()
            baseline_pwcca(view1, view2, *params)  # the reference's fit also scores the training data
            seconds["in_sample_score"] += time.perf_counter() - start
            fits.append(((eps_x, eps_y), params))
            if len(fits) == max_pairs:
                break
        del view1, view2
        start = time.perf_counter()
        dev_x, dev_y = x[splits[dev]].T, y[splits[dev]].T
        dev_scores = [baseline_pwcca(dev_x, dev_y, *params) for _, params in fits]
        best = int(np.argmax(dev_scores))
        tests.append(baseline_pwcca(x[splits[test]].T, y[splits[test]].T, *fits[best][1]))
        chosen.append(fits[best][0])
        seconds["held_out_score"] += time.perf_counter() - start
    return {"test_scores": tests, "eps_pairs": chosen, "seconds": seconds}


# --------------------------------------------------------------------------------------------------


def ours(x, y, splits, grid, max_pairs: int, device: str) -> dict[str, Any]:
    _sync(device)
    start = time.perf_counter()
    stats = SplitStatistics.from_arrays(x, y, splits, device=device)
    _sync(device)
    statistics_seconds = time.perf_counter() - start
    result = cross_validated_score_from_statistics(stats, "pwcca", grid, max_pairs=max_pairs)
    _sync(device)
    total = time.perf_counter() - start
    return {
        "result": result,
        "seconds": {"statistics_pass": statistics_seconds, "protocol": total - statistics_seconds},
        "total": total,
    }


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def warm_up(dx: int, dy: int, device: str) -> None:
    """Run both sides once on a few rows of the same dims: page in library code, set up LAPACK."""
    rows = max(4000, 12 * max(dx, dy))  # every split must have more rows than dims
    x, y = synthetic_views(rows, dx, dy, seed=1)
    splits, grid = make_splits(rows, None, 10, 0), list(REFERENCE_EPS_GRID)
    ours(x, y, splits, grid, 2, device)
    baseline_protocol(x, y, splits, trial_pairs(10, 0)[:1], grid, 2)


def run_size(rows: int, dx: int, dy: int, args: argparse.Namespace) -> dict[str, Any]:
    x, y = synthetic_views(rows, dx, dy, seed=args.seed)
    splits = make_splits(rows, None, 10, args.seed)
    trials = trial_pairs(10, args.seed)[:3]
    grid = list(REFERENCE_EPS_GRID)
    warm_up(dx, dy, args.device)
    runs = [ours(x, y, splits, grid, args.max_pairs, args.device) for _ in range(args.repeats)]
    times = [run["total"] for run in runs]
    ours_run = runs[int(np.argsort(times)[len(times) // 2])]  # the median run
    result = ours_run["result"]
    assert result.trials == tuple(trials), "both sides must use the same trials"
    figures: dict[str, Any] = {
        "rows": rows,
        "train_rows": result.sizes[0][0],
        "dims": [dx, dy],
        "ours_seconds": round(ours_run["total"], 2),
        "ours_seconds_all_runs": [round(t, 2) for t in times],
        "ours_breakdown": {k: round(v, 2) for k, v in ours_run["seconds"].items()},
        "ours_score": result.score,
        "ours_eps_pairs": result.eps_pairs,
        "load_average_before": os.getloadavg()[0],
    }
    if torch.cuda.is_available() and not args.device.startswith("cuda"):
        warm_up(dx, dy, "cuda")
        figures["ours_cuda_seconds"] = round(ours(x, y, splits, grid, args.max_pairs, "cuda")["total"], 2)
    if not args.skip_baseline:
        start = time.perf_counter()
        base = baseline_protocol(x, y, splits, trials, grid, args.max_pairs)
        baseline_seconds = time.perf_counter() - start
        diff = np.abs(np.asarray(base["test_scores"]) - np.asarray(result.test_scores))
        figures.update(
            baseline_seconds=round(baseline_seconds, 2),
            baseline_breakdown={k: round(v, 2) for k, v in base["seconds"].items()},
            baseline_score=float(np.mean(base["test_scores"])),
            baseline_eps_pairs=base["eps_pairs"],
            ratio=round(baseline_seconds / ours_run["total"], 1),
            ratio_without_in_sample_scoring=round(
                (baseline_seconds - base["seconds"]["in_sample_score"]) / ours_run["total"], 1
            ),
            max_abs_score_difference=float(diff.max()),
            load_average_after=os.getloadavg()[0],
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="for ours")
    parser.add_argument("--rows", type=int, default=180_000, help="total rows (80%% train)")
    parser.add_argument("--sizes", nargs="+", default=["768x80", "768x768"], help="dims as DXxDY")
    parser.add_argument("--max-pairs", type=int, default=6, help="eps pairs per trial (reference: 6)")
    parser.add_argument("--quick", action="store_true", help="18k rows, 256x40 and 256x256")
    parser.add_argument("--skip-baseline", action="store_true", help="time ours only")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours; the median counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.sizes = 18_000, ["256x40", "256x256"]
    sizes = [tuple(int(v) for v in size.lower().split("x")) for size in args.sizes]

    results = []
    header = ("dims", "train rows", "baseline s", "ours s", "ratio", "max |dscore|")
    print("".join(f"{h:>13s}" for h in header))
    for dx, dy in sizes:
        figures = run_size(args.rows, dx, dy, args)
        results.append(figures)
        nan = float("nan")
        row = (
            f"{dx}x{dy:<5d}",
            f"{figures['train_rows']:d}",
            f"{figures.get('baseline_seconds', nan):.1f}",
            f"{figures['ours_seconds']:.2f}",
            f"{figures.get('ratio', nan):.1f}",
            f"{figures.get('max_abs_score_difference', nan):.2e}",
        )
        print("".join(f"{v:>13s}" for v in row), flush=True)
        if "ours_cuda_seconds" in figures:
            print(f"{'':>13s}ours on CUDA: {figures['ours_cuda_seconds']:.2f} s")
    output = {
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "max_pairs": args.max_pairs,
        "sizes": results,
        "versions": environment_versions(),
    }
    for figures in results:
        print(json.dumps({k: figures[k] for k in figures if k.endswith("breakdown")}))
    if args.json:
        args.json.write_text(json.dumps(output, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
