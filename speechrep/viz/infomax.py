"""Plots of the InfoMax interpretability stage (``results.json`` of
:func:`speechrep.infomax.interpretation.interpret_from_config`).

:func:`plot_interpretation` writes, into the run folder:

- ``tsne_<module>.png``: t-SNE of time-mean latents, one colour per label value;
- ``histograms_<module>.png``: one panel per dimension, its histogram and the N(0, 1) density;
- ``total_correlation.png``: Gaussian (all dims and subsets) and k-NN (subsets) TC per module;
- ``weight_densities.png``: the scaled-weight density of each probe head (when probes were given);
- ``interpolation_scores.png``: relative error ``r_K`` against ``K`` (when a decoder was given).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from speechrep.utils.io import atomic_open


def plot_interpretation(results: Mapping[str, Any], out_dir: str | os.PathLike) -> list[Path]:
    """Every figure of the module docstring that ``results`` has data for; returns the paths."""
    out = Path(out_dir)
    written = []
    for module, record in results["modules"].items():
        written.append(_tsne(record["tsne"], module, results["label"], out / f"tsne_{module}.png"))
        written.append(_histograms(record["histograms"], module, out / f"histograms_{module}.png"))
    written.append(_total_correlation(results["modules"], out / "total_correlation.png"))
    if results["weight_densities"]:
        written.append(_weight_densities(results["weight_densities"], out / "weight_densities.png"))
    if results["interpolation"]:
        written.append(_interpolation(results["interpolation"], out / "interpolation_scores.png"))
    return written


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
    return path


def _tsne(record: Mapping[str, Any], module: str, label: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for value in sorted(set(record["labels"])):
        rows = [i for i, v in enumerate(record["labels"]) if v == value]
        ax.scatter([record["x"][i] for i in rows], [record["y"][i] for i in rows], s=8, label=value)
    ax.set_title(f"t-SNE of time-mean latents, {module}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(title=label, fontsize=7, title_fontsize=7, markerscale=1.5)
    return _save(fig, path)


def _histograms(record: Mapping[str, Any], module: str, path: Path) -> Path:
    dims = record["dims"]
    cols = min(4, len(dims))
    rows = math.ceil(len(dims) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.7 * rows), squeeze=False)
    edges = record["edges"]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    for ax, dim, density, tv in zip(axes.flat, dims, record["densities"], record["tv_distance"]):
        ax.stairs(density, edges, fill=True, alpha=0.6)
        ax.plot(centres, record["normal"], color="k", linewidth=0.8)
        ax.set_title(f"dim {dim} (TV {tv:.2f})", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(dims) :]:
        ax.axis("off")
    fig.suptitle(f"{module}: per-dimension histograms vs N(0, 1)", fontsize=9)
    return _save(fig, path)


def _total_correlation(modules: Mapping[str, Any], path: Path) -> Path:
    names = list(modules)
    series = {
        "Gaussian, all dims": [modules[m]["total_correlation"]["gaussian_all_dims"] for m in names],
        "Gaussian, subsets": [modules[m]["total_correlation"]["gaussian_subset_mean"] for m in names],
        "k-NN, subsets": [modules[m]["total_correlation"]["knn_subset_mean"] for m in names],
    }
    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(names), 3.2))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        xs = [j + (i - 1) * width for j in range(len(names))]
        ax.bar(xs, [math.nan if v is None else v for v in values], width, label=label)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("total correlation (nats)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def _weight_densities(records: list[Mapping[str, Any]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for record in records:
        ax.plot(record["x"], record["density"], label=f"{record['module']} {record['task']}")
    ax.set_xlabel("weight / max |weight| of its class")
    ax.set_ylabel("density")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _interpolation(record: Mapping[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(record["ks"], record["relative"], marker="o", markersize=3)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("K (swapped dims)")
    ax.set_ylabel("relative error r_K")
    ax.set_title(f"interpolation contribution, {record['module']}", fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)
