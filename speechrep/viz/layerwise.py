"""Layer-wise curves: one panel per upstream, one line per measure, layers in model order.

Lines of one panel may cover different layers (cca_mel scores CNN and transformer layers, cca_phone
only transformer layers): the x axis of a panel is the union of their layers in model order
(:func:`layer_order`), and a line has points only at its own layers. With ``normalise`` each line
is min-max scaled to [0, 1], as the layer-wise figures of Pasad et al. do to compare the shapes of
measures on different scales.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from speechrep.utils.io import atomic_open

#: Layer-name families in model order; other families follow, alphabetically.
FAMILY_ORDER = ("mel", "cnn", "module", "tf")

_NAME = re.compile(r"^(?P<family>[^.]+)(?:\.(?P<rest>.*))?$")


def layer_sort_key(name: str) -> tuple[int, str, int, str]:
    """Model order of named layers: ``mel`` < ``cnn.0`` < … < ``cnn.6`` < ``tf.0`` < … < ``tf.24``."""
    match = _NAME.match(name)
    family, rest = (match["family"], match["rest"] or "") if match else (name, "")
    rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
    index = int(rest) if rest.isdigit() else -1
    return (rank, family, index, rest)


def layer_order(names: Iterable[str]) -> list[str]:
    """The distinct ``names`` sorted by :func:`layer_sort_key`."""
    return sorted(set(names), key=layer_sort_key)


def _usable(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def plot_layerwise(
    curves: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    path: str | os.PathLike,
    ylabel: str = "score",
    chance: Mapping[str, Mapping[str, float]] | None = None,
    normalise: bool = False,
    title: str = "",
) -> Path:
    """Save a figure of ``curves[upstream][measure][layer] = value`` as PNG (atomically).

    ``chance[upstream][measure]`` draws a dashed chance line (not with ``normalise``); missing or
    non-finite values leave a gap. ``normalise`` min-max scales each line to [0, 1]. A measure has
    one colour in every panel.
    """
    upstreams = list(curves)
    if not upstreams:
        raise ValueError("no curves to plot")
    fig, axes = plt.subplots(1, len(upstreams), figsize=(4.5 * len(upstreams), 3.4), squeeze=False)
    measures = list(dict.fromkeys(measure for lines in curves.values() for measure in lines))
    colour = {measure: f"C{i % 10}" for i, measure in enumerate(measures)}  # one colour per measure
    for ax, upstream in zip(axes[0], upstreams):
        layers = layer_order(layer for values in curves[upstream].values() for layer in values)
        position = {layer: i for i, layer in enumerate(layers)}
        for measure, values in curves[upstream].items():
            points = [(position[layer], y) for layer, y in values.items() if _usable(y)]
            points.sort()
            ys = [y for _, y in points]
            if normalise and len(ys) > 1 and max(ys) > min(ys):
                ys = [(y - min(ys)) / (max(ys) - min(ys)) for y in ys]
            xs = [x for x, _ in points]
            ax.plot(xs, ys, marker="o", markersize=3, label=measure, color=colour[measure])
            if chance and measure in chance.get(upstream, {}) and not normalise:
                ax.axhline(chance[upstream][measure], color=colour[measure], linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(layers)), layers, rotation=60, fontsize=7)
        ax.set_title(upstream, fontsize=9)
        ax.set_ylabel(ylabel + (" (min-max)" if normalise else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
    return path
