"""Layer × layer heatmaps (CKA within or across upstreams, or any matrix of scores) as PNG."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from speechrep.utils.io import atomic_open

#: Matrices up to this many cells per side get their values written in the cells.
ANNOTATE_MAX_SIDE = 16


def plot_heatmap(
    matrix: np.ndarray,
    row_names: Sequence[str],
    col_names: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
    vmin: float = 0.0,
    vmax: float = 1.0,
    row_label: str = "",
    col_label: str = "",
    colorbar_label: str = "",
    annotate: bool | None = None,
    cmap: str = "magma",
) -> Path:
    """Save ``matrix[i, j]`` (row ``row_names[i]``, column ``col_names[j]``) as a PNG, atomically.

    Rows run top to bottom and columns left to right in the given (layer) order; every tick is
    labelled with its name. ``annotate`` writes each value in its cell (default: when neither side
    exceeds :data:`ANNOTATE_MAX_SIDE`). NaN cells are drawn grey. Returns ``path``.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {values.shape}")
    if values.shape != (len(row_names), len(col_names)):
        raise ValueError(
            f"matrix of shape {values.shape} does not match {len(row_names)} row names "
            f"and {len(col_names)} column names"
        )
    if not vmin < vmax:
        raise ValueError(f"vmin must be below vmax, got {vmin} and {vmax}")
    rows, cols = values.shape
    if annotate is None:
        annotate = max(rows, cols) <= ANNOTATE_MAX_SIDE

    fig, ax = plt.subplots(figsize=(min(2.5 + 0.45 * cols, 18), min(2.0 + 0.4 * rows, 18)))
    colormap = plt.get_cmap(cmap).with_extremes(bad="0.8")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, vmin=vmin, vmax=vmax, aspect="auto")
    colorbar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
    if colorbar_label:
        colorbar.set_label(colorbar_label)
    ax.set_xticks(range(cols), [str(n) for n in col_names], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(rows), [str(n) for n in row_names], fontsize=7)
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    if title:
        ax.set_title(title, fontsize=9)
    if annotate:
        middle = (vmin + vmax) / 2
        for i in range(rows):
            for j in range(cols):
                value = values[i, j]
                text = "–" if np.isnan(value) else f"{value:.2f}"
                color = "black" if np.isnan(value) or value > middle else "white"
                ax.text(j, i, text, ha="center", va="center", fontsize=6, color=color)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
    return path
