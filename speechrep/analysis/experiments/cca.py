"""CCA experiments of the layer-wise analysis (Pasad et al. 2021 ASRU, 2023 ICASSP, 2024 TACL).

Each layer x of each store is compared with a second view y under the cross-validated protocol of
:mod:`speechrep.analysis.cca_protocol` (10 stratified parts, 3 trials of 80/10/10, eps pair chosen
on dev, test score reported; PWCCA by default). ``against`` says what y is:

* ``reference`` (cca_mel): the layer of another store (the mel pseudo-upstream's) with the same
  frame hop: CNN layers box-filtered to 10 ms meet ``mel``, 20 ms layers meet ``mel.20ms``. Frames
  are paired per utterance, the longer side truncated (the reference truncates the mel frames).
* ``layer`` (cca_intra): ``base_layer`` of the same store (default ``tf.0``); layers of another hop
  are left out unless named explicitly.
* ``same_layer`` (cca_inter): the same-named layer of another store (pre-trained vs fine-tuned).
* ``labels`` (cca_phone, cca_word): one-hot segment labels; splits stratified by label.
* ``embeddings`` (cca_agwe, cca_glove): each word segment's vector from a word-embedding file
  (:mod:`speechrep.analysis.embeddings`); rows without a vector are dropped and counted.

``control=True`` (labels, embeddings) also scores y with its rows permuted (seeded): a held-out
chance level, about 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from speechrep.analysis.cca_protocol import REFERENCE_EPS_GRID, cross_validated_score, make_splits
from speechrep.analysis.embeddings import row_vectors
from speechrep.analysis.experiments.inputs import (
    HOP_TOLERANCE,
    IndexedRows,
    align_rows,
    hop_groups,
    layer_progress,
    require_layers,
    require_span,
    select_layers,
)
from speechrep.analysis.experiments.results import ExperimentResult
from speechrep.store import FeatureStore, StoreError

log = logging.getLogger(__name__)

AGAINST = ("reference", "layer", "same_layer", "labels", "embeddings")

#: (x view, y view, labels that stratify the splits or None, what y is, extra numbers)
Views = tuple[Any, Any, np.ndarray | None, str, dict[str, Any]]


def run_cca(
    stores: Mapping[str, FeatureStore],
    *,
    against: str,
    reference: str | None = None,
    reference_layer: str | None = None,
    base_layer: str = "tf.0",
    embeddings: str | None = None,
    lowercase: bool = True,
    control: bool = False,
    method: str = "pwcca",
    num_splits: int = 10,
    num_trials: int = 3,
    max_pairs: int | None = 9,
    eps_grid: Sequence[Sequence[float]] | None = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool | None = None,
) -> ExperimentResult:
    """Cross-validated CCA of every chosen layer against ``against`` (module docstring).

    ``reference`` is the other store's folder (``reference``, ``same_layer``); ``reference_layer``
    fixes its layer instead of matching hops. ``embeddings`` is the word-embedding file. The
    protocol's knobs (``method``, ``num_splits``, ``num_trials``, ``max_pairs``, ``eps_grid``: a list
    of (eps_x, eps_y), default the reference grid) apply to every layer.
    """
    if against not in AGAINST:
        raise ValueError(f"against must be one of {AGAINST}, got {against!r}")
    grid = REFERENCE_EPS_GRID if eps_grid is None else [tuple(map(float, pair)) for pair in eps_grid]
    other = FeatureStore(reference) if against in ("reference", "same_layer") else None
    if other is None and reference is not None:
        raise ValueError(f"against={against!r} takes no reference store")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    inputs: dict[str, Any] = {"against": against, "reference": None if other is None else str(other.path)}
    measures = ["score", "control"] if control and against in ("labels", "embeddings") else ["score"]
    for name, store in stores.items():
        chosen = select_layers(store, layers)
        if against == "layer":
            chosen, make_views, info = _against_base(store, base_layer, layers)
        elif other is not None:
            make_views, info = _against_store(store, other, against == "same_layer", reference_layer), {}
        else:
            make_views, info = _segment_views(store, against, embeddings, lowercase)
        inputs[name] = {"store": str(store.path), **info}
        splits: dict[tuple[int, bool], list[np.ndarray]] = {}
        results[name] = {}
        for layer in layer_progress(chosen, f"cca {name}", progress):
            x, y, labels, what, extra = make_views(layer)
            key = (len(x), labels is not None)
            if key not in splits:
                splits[key] = make_splits(len(x), labels, num_splits, seed)
            protocol = dict(method=method, eps_grid=grid, max_pairs=max_pairs, num_trials=num_trials)
            try:
                scored = cross_validated_score(x, y, splits=splits[key], seed=seed, device=device, **protocol)
            except RuntimeError as error:
                raise RuntimeError(f"{store.path} layer {layer} ({len(x)} rows, {what}): {error}") from error
            record = {"score": scored.score, "against": what, **extra, **scored.to_dict()}
            if "control" in measures:
                shuffled = IndexedRows(y.table, np.random.default_rng([seed, 3]).permutation(y.index))
                control_score = cross_validated_score(
                    x, shuffled, splits=splits[key], seed=seed, device=device, **protocol
                )
                record["control"] = control_score.score
            results[name][layer] = record
    return ExperimentResult(
        analysis=f"cca_{against}",
        ylabel=f"{method.upper()} (held-out)",
        primary="score",
        measures=measures,
        layers=results,
        inputs=inputs,
    )


def _against_base(
    store: FeatureStore, base_layer: str, layers: Sequence[str] | None
) -> tuple[list[str], Callable[[str], Views], dict[str, Any]]:
    """cca_intra: the layers (by default those sharing the base layer's hop) against the base layer."""
    require_layers(store, [base_layer])
    if layers is None:
        group = next(g for g in hop_groups(store, store.layers) if base_layer in g)
        chosen = [layer for layer in group if layer != base_layer]
    else:
        chosen = select_layers(store, layers)
    return chosen, lambda layer: _paired(store, layer, store, base_layer), {"base_layer": base_layer}


def _against_store(
    store: FeatureStore, other: FeatureStore, same_layer: bool, reference_layer: str | None
) -> Callable[[str], Views]:
    """cca_mel / cca_inter: each layer against the other store's same-hop (or same-named) layer."""

    def views(layer: str) -> Views:
        if same_layer:
            return _paired(store, layer, other, require_layers(other, [layer])[0])
        return _paired(store, layer, other, reference_layer or _same_hop(other, store, layer))

    return views


def _same_hop(reference: FeatureStore, store: FeatureStore, layer: str) -> str:
    """The reference layer whose frame hop equals that of ``store``'s ``layer``."""
    hop = store.hop_seconds(layer)
    for candidate in reference.layers:
        if abs(reference.hop_seconds(candidate) - hop) <= HOP_TOLERANCE:
            return candidate
    hops = {name: reference.hop_seconds(name) for name in reference.layers}
    raise StoreError(
        f"{reference.path} has no layer with the {hop * 1000:g} ms hop of {layer!r} (its hops: {hops}); "
        "extract CNN layers with extraction.cnn_to_10ms=true or set analysis.reference_layer"
    )


def _paired(store: FeatureStore, layer: str, other: FeatureStore, other_layer: str) -> Views:
    alignment = align_rows([(store, layer), (other, other_layer)])
    x, y = alignment.views([store.features(layer), other.features(other_layer)])
    extra = {"rows_dropped": list(alignment.dropped)}
    return x, y, None, f"{other.upstream_name}:{other_layer}", extra


def _segment_views(
    store: FeatureStore, against: str, embeddings: str | None, lowercase: bool
) -> tuple[Callable[[str], Views], dict[str, Any]]:
    """Views of segment means against one-hot labels or word vectors, and the coverage numbers."""
    require_span(store, ("phone", "word"), f"CCA against {against}")
    labels = store.segments.label
    if against == "labels":
        classes, codes = np.unique(labels.astype(str), return_inverse=True)
        one_hot = np.eye(len(classes), dtype=np.float32)
        info = {"num_labels": len(classes), "rows": len(labels)}
        return lambda layer: (
            store.features(layer),
            IndexedRows(one_hot, codes),
            labels,
            "one-hot labels",
            {},
        ), info
    if embeddings is None:
        raise ValueError("against=embeddings needs analysis.embeddings=<GloVe .txt, .npz or .pkl file>")
    vectors = row_vectors(labels, embeddings, lowercase=lowercase)
    if len(vectors.rows) < 2:
        raise ValueError(f"{embeddings}: fewer than two segments of {store.path} have a word vector")
    log.info("%s: %d rows without a word vector dropped", store.path, vectors.rows_dropped)
    info = {"embeddings": str(embeddings), "embedding_dim": vectors.embeddings.dim, **vectors.coverage()}
    kept_labels = labels[vectors.rows]
    y = IndexedRows(vectors.embeddings.vectors, vectors.codes)
    return lambda layer: (
        IndexedRows(store.features(layer), vectors.rows),
        y,
        kept_labels,
        "word embeddings",
        {},
    ), info
