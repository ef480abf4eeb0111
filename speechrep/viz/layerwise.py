"""Layer-wise curves: one panel per upstream, one line per measure, layers in model order."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from speechrep.utils.io import atomic_open


def plot_layerwise(
    curves: Mapping[str, Mapping[str, Mapping[str, float]]],
    path: str | os.PathLike,
    ylabel: str = "score",
    chance: Mapping[str, Mapping[str, float]] | None = None,
    normalise: bool = False,
) -> Path:
    """Save a figure of ``curves[upstream][measure][layer] = value`` as PNG (atomically).

    ``chance[upstream][measure]`` draws a dashed chance line; ``normalise`` min-max scales each
    line to [0, 1] (as layer-wise papers do to compare shapes across measures).
    """
    upstreams: Sequence[str] = list(curves)
    fig, axes = plt.subplots(1, len(upstreams), figsize=(4.5 * len(upstreams), 3.4), squeeze=False)
    for ax, upstream in zip(axes[0], upstreams):
        for measure, values in curves[upstream].items():
            layers = list(values)
            ys = [values[layer] for layer in layers]
            if normalise and len(ys) > 1 and max(ys) > min(ys):
                ys = [(y - min(ys)) / (max(ys) - min(ys)) for y in ys]
            (line,) = ax.plot(range(len(layers)), ys, marker="o", markersize=3, label=measure)
            if chance and measure in chance.get(upstream, {}) and not normalise:
                ax.axhline(chance[upstream][measure], color=line.get_color(), linestyle="--", linewidth=0.8)
            ax.set_xticks(range(len(layers)), layers, rotation=60, fontsize=7)
        ax.set_title(upstream, fontsize=9)
        ax.set_ylabel(ylabel + (" (min-max)" if normalise else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
    return path
