"""Plots of experiment results (``results.json`` of :mod:`speechrep.analysis.experiments`).

* :func:`plot_results`: one experiment's layer-wise curves (every measure, with chance lines) as
  ``layerwise.png`` and each layer x layer matrix (CKA) as ``heatmap_<rows>__<cols>.png``.
* :func:`combine_layerwise`: several experiments in one figure, one panel per upstream and one
  line per experiment (its primary measure), optionally min-max normalised: the all-in-one
  figure of the layer-wise analysis (acoustic, phone, word, meaning content against depth).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speechrep.analysis.experiments.results import RESULTS_JSON, read_results
from speechrep.viz.heatmap import plot_heatmap
from speechrep.viz.layerwise import plot_layerwise


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "store"


def _curve(record: dict[str, Any], upstream: str, measure: str) -> dict[str, float | None]:
    return {layer: values.get(measure) for layer, values in record["layers"][upstream].items()}


def plot_results(results: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> list[Path]:
    """Plot one ``results.json`` (or its run folder) into ``out_dir`` (default: beside it)."""
    record = read_results(results)
    source = Path(results)
    out = Path(out_dir) if out_dir is not None else (source if source.is_dir() else source.parent)
    written = []
    curves = {
        upstream: {measure: _curve(record, upstream, measure) for measure in record["measures"]}
        for upstream in record["layers"]
        if record["layers"][upstream]
    }
    if curves:
        written.append(
            plot_layerwise(
                curves,
                out / "layerwise.png",
                ylabel=record.get("ylabel", "score"),
                chance=record.get("chance") or None,
                title=record["experiment"],
            )
        )
    for matrix in record.get("matrices", []):
        rows_from, cols_from = matrix["rows_from"], matrix["cols_from"]
        values = [[float("nan") if v is None else v for v in row] for row in matrix["values"]]
        written.append(
            plot_heatmap(
                values,
                matrix["rows"],
                matrix["cols"],
                out / f"heatmap_{_slug(rows_from)}__{_slug(cols_from)}.png",
                title=f"{record['experiment']}: {rows_from} x {cols_from}",
                row_label=rows_from,
                col_label=cols_from,
                colorbar_label=record.get("ylabel", ""),
            )
        )
    return written


def combine_layerwise(
    results: Sequence[str | os.PathLike],
    path: str | os.PathLike,
    normalise: bool = False,
    measure: str | None = None,
    title: str = "",
) -> Path:
    """One figure of several experiments: a panel per upstream, a line per experiment.

    Each line is the experiment's primary measure (or ``measure``, which every file must have).
    An experiment already drawn in a panel gets its position in ``results`` appended (``cca_phone#2``).
    """
    if not results:
        raise ValueError("no results files to combine")
    curves: dict[str, dict[str, dict[str, float | None]]] = {}
    ylabels = set()
    for i, source in enumerate(results):
        record = read_results(source)
        chosen = measure or record["primary"]
        if chosen not in record["measures"]:
            raise ValueError(f"{source}: no measure {chosen!r}; it has {record['measures']}")
        ylabels.add(record.get("ylabel", "score") if measure is None else measure)
        for upstream in record["layers"]:
            lines = curves.setdefault(upstream, {})
            label = record["experiment"]
            lines[label if label not in lines else f"{label}#{i + 1}"] = _curve(record, upstream, chosen)
    ylabel = ylabels.pop() if len(ylabels) == 1 else "score"
    return plot_layerwise(curves, path, ylabel=ylabel, normalise=normalise, title=title)


__all__ = ["RESULTS_JSON", "combine_layerwise", "plot_results"]
