"""The result of one experiment and its files: ``results.json`` (everything) and ``results.csv``.

``results.json`` layout::

    {"experiment": <task name>, "analysis": <what was measured>, "ylabel": ..., "primary": <measure>,
     "measures": [<per-layer numbers to plot>], "layers": {upstream: {layer: {name: value, ...}}},
     "chance": {upstream: {measure: value}}, "matrices": [{"rows_from", "cols_from", "rows",
     "cols", "values"}], "inputs": {...}, "config": {...}, "seed": ..., "versions": {...}}

``layers[upstream][layer]`` holds the score(s) and their bookkeeping (seeds, sizes, eps chosen,
coverage ...); ``measures`` names the numbers among them that make the layer-wise curves, ``primary``
the one a combined figure shows. ``results.csv`` has one row per (upstream, layer) with every
scalar of that record (nested records flattened to ``a.b`` columns, lists as JSON); layer x layer
matrices also go to ``matrices.csv``, one row per cell (``rows_from, row, cols_from, col, value``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from speechrep.utils.io import atomic_write_json, atomic_write_text
from speechrep.utils.provenance import environment_versions

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
MATRICES_CSV = "matrices.csv"


@dataclass
class ExperimentResult:
    """Per-upstream, per-layer numbers of one analysis, plus what a plot needs to show them."""

    analysis: str
    ylabel: str
    primary: str
    measures: list[str]
    layers: dict[str, dict[str, dict[str, Any]]]
    chance: dict[str, dict[str, float]] = field(default_factory=dict)
    matrices: list[dict[str, Any]] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.primary not in self.measures:
            raise ValueError(f"primary measure {self.primary!r} is not among {self.measures}")


def write_results(
    out_dir: str | os.PathLike, experiment: str, result: ExperimentResult, config: dict[str, Any], seed: int
) -> Path:
    """Write ``results.json`` and ``results.csv`` atomically into ``out_dir``; return the JSON path."""
    out = Path(out_dir)
    record = {"experiment": experiment, **asdict(result)}
    record.update(config=config, seed=seed, versions=environment_versions())
    atomic_write_json(out / RESULTS_JSON, _finite(record))
    atomic_write_text(out / RESULTS_CSV, results_csv(result.layers))
    if result.matrices:
        atomic_write_text(out / MATRICES_CSV, matrices_csv(result.matrices))
    return out / RESULTS_JSON


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """A ``results.json`` (or the run folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_JSON
    record = json.loads(path.read_text())
    missing = {"experiment", "layers", "measures", "primary"} - set(record)
    if missing:
        raise ValueError(f"{path} is not an experiment result: no {', '.join(sorted(missing))}")
    return record


def _finite(value: Any) -> Any:
    """NaN and infinities become null, so the JSON is valid for every reader."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(_finite(list(value)))
        else:
            flat[name] = value
    return flat


def results_csv(layers: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One row per (upstream, layer): every number of its record, columns in first-seen order."""
    rows = [
        {"upstream": upstream, "layer": layer, **_flatten(record)}
        for upstream, per_layer in layers.items()
        for layer, record in per_layer.items()
    ]
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["upstream", "layer"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def matrices_csv(matrices: list[dict[str, Any]]) -> str:
    """Every cell of every matrix: ``rows_from, row, cols_from, col, value`` (empty when undefined)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rows_from", "row", "cols_from", "col", "value"])
    for matrix in matrices:
        for row, values in zip(matrix["rows"], matrix["values"]):
            for col, value in zip(matrix["cols"], values):
                finite = value is not None and math.isfinite(value)
                writer.writerow([matrix["rows_from"], row, matrix["cols_from"], col, value if finite else ""])
    return buffer.getvalue()
