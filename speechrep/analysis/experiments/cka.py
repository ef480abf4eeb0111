"""cka: layer x layer linear CKA within each store and across every pair of stores.

Debiased linear CKA (Kornblith et al. 2019 with the unbiased HSIC of Song et al. 2012, as in
Nguyen, Raghu & Kornblith 2021; :mod:`speechrep.analysis.cka`) compares two layers through the
same rows, streamed in feature space (no n x n kernel). Rows are paired with
:func:`~speechrep.analysis.experiments.inputs.align_rows`: segment stores by (utterance, position),
frame stores per utterance with the longer side truncated. Frame layers of different hops (CNN
layers pooled to 10 ms against 20 ms layers) have no common rows: those cells are NaN (grey).

Across two stores, the CKA of equally named layers (the matrix diagonal) is also a per-layer curve.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from speechrep.analysis.cka import cka_matrix
from speechrep.analysis.experiments.inputs import HOP_TOLERANCE, align_rows, hop_groups, select_layers
from speechrep.analysis.experiments.results import ExperimentResult
from speechrep.store import FeatureStore


def layer_cka_matrix(
    a: FeatureStore,
    layers_a: Sequence[str],
    b: FeatureStore,
    layers_b: Sequence[str],
    debiased: bool = True,
    device: str | None = None,
) -> np.ndarray:
    """``matrix[i, j]`` = CKA of ``a``'s ``layers_a[i]`` and ``b``'s ``layers_b[j]`` on paired rows.

    Layers are grouped by hop; each pair of groups with one hop is aligned once and filled by one
    :func:`~speechrep.analysis.cka.cka_matrix` call; other cells stay NaN.
    """
    matrix = np.full((len(layers_a), len(layers_b)), np.nan)
    same = a.path == b.path
    for group_a in hop_groups(a, layers_a):
        for group_b in hop_groups(b, layers_b):
            if (
                a.span == "frame"
                and abs(a.hop_seconds(group_a[0]) - b.hop_seconds(group_b[0])) > HOP_TOLERANCE
            ):
                continue
            views = [(a, layer) for layer in group_a] + [(b, layer) for layer in group_b]
            alignment = align_rows(views)
            tables = [store.features(layer) for store, layer in views]
            paired = alignment.views(tables)
            side_a = dict(zip(group_a, paired[: len(group_a)]))
            side_b = dict(zip(group_b, paired[len(group_a) :]))
            symmetric = same and group_a == group_b
            _, _, block = cka_matrix(side_a, None if symmetric else side_b, debiased=debiased, device=device)
            rows = [layers_a.index(layer) for layer in group_a]
            cols = [layers_b.index(layer) for layer in group_b]
            matrix[np.ix_(rows, cols)] = block
    return matrix


def run_cka(
    stores: Mapping[str, FeatureStore],
    *,
    debiased: bool = True,
    across: bool = True,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool | None = None,
) -> ExperimentResult:
    """CKA matrices within each store and (``across``) between every pair of stores.

    ``seed`` and ``progress`` are unused (CKA is deterministic and fast beside the data pass).
    """
    chosen = {name: select_layers(store, layers) for name, store in stores.items()}
    pairs = [(name, name) for name in stores]
    if across:
        pairs += list(itertools.combinations(stores, 2))
    matrices: list[dict[str, Any]] = []
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name_a, name_b in pairs:
        values = layer_cka_matrix(
            stores[name_a], chosen[name_a], stores[name_b], chosen[name_b], debiased, device
        )
        matrices.append(
            {
                "rows_from": name_a,
                "cols_from": name_b,
                "rows": chosen[name_a],
                "cols": chosen[name_b],
                "values": values.tolist(),
            }
        )
        if name_a != name_b:
            key = f"{name_a} vs {name_b}"
            results[key] = {
                layer: {"score": float(values[i, chosen[name_b].index(layer)])}
                for i, layer in enumerate(chosen[name_a])
                if layer in chosen[name_b]
            }
    return ExperimentResult(
        analysis="cka",
        ylabel=("debiased" if debiased else "biased") + " linear CKA",
        primary="score",
        measures=["score"],
        layers=results,
        matrices=matrices,
        inputs={"stores": {name: str(store.path) for name, store in stores.items()}},
    )
