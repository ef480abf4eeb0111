"""probe_phone / probe_word / probe_speaker (any label): linear probes per layer with a control task.

A multinomial logistic-regression probe per layer (:mod:`speechrep.analysis.probes`) on one shared
split, grouped by utterance so that no utterance's rows sit on both sides. The control task of
Hewitt & Liang (2019) gives each type a random label drawn from the real label distribution;
selectivity = accuracy - control accuracy. ``mdl`` adds the online code length of Voita & Titov
(2020) as a compression ratio (uniform code / online code).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from speechrep.analysis.experiments.inputs import (
    IndexedRows,
    layer_progress,
    require_span,
    row_targets,
    row_utterances,
    select_layers,
)
from speechrep.analysis.experiments.results import ExperimentResult
from speechrep.analysis.probes import mdl_online_codelength, probe_layers
from speechrep.data.manifest import Manifest
from speechrep.store import FeatureStore

GROUPINGS = ("utterance", "speaker", None)


def run_probe(
    stores: Mapping[str, FeatureStore],
    *,
    target: str = "label",
    manifest: str | None = None,
    group_by: str | None = "utterance",
    control: bool = True,
    control_by: str | None = None,
    min_count: int = 2,
    test_size: float = 0.2,
    C: float = 1.0,
    max_iter: int = 1000,
    mdl: bool = False,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool | None = None,
) -> ExperimentResult:
    """Probe ``target`` from every layer of each segment- or utterance-span store.

    ``target``: ``label`` (the segment's phone or word), ``speaker`` or a key of the manifest's
    utterance labels (then ``manifest`` is needed). ``group_by``: ``utterance``, ``speaker`` (needs
    the manifest) or null (rows split freely). ``control_by``: the unit sharing one control label:
    null (each row), ``utterance`` or ``speaker``. Classes with fewer than
    ``min_count`` rows are dropped (counted). ``device`` is unused (scikit-learn, CPU).
    """
    if group_by not in GROUPINGS or control_by not in GROUPINGS:
        raise ValueError(f"group_by and control_by must be one of {GROUPINGS}")
    aligned = Manifest.load(manifest) if manifest is not None else None
    results: dict[str, dict[str, dict[str, Any]]] = {}
    inputs: dict[str, Any] = {"target": target, "manifest": manifest}
    measures = ["accuracy", "control_accuracy"] if control else ["accuracy"]
    if mdl:
        measures.append("compression")
    chance: dict[str, dict[str, float]] = {}
    for name, store in stores.items():
        require_span(store, ("phone", "word", "utterance"), "probing")
        labels = row_targets(store, target, aligned)
        classes, counts = np.unique(labels.astype(str), return_counts=True)
        kept = np.flatnonzero(np.isin(labels.astype(str), classes[counts >= min_count]))
        if len(np.unique(labels[kept])) < 2:
            raise ValueError(f"{store.path}: fewer than two {target!r} classes with {min_count}+ rows")
        groups = _types(store, group_by, aligned)
        types = _types(store, control_by, aligned)
        inputs[name] = {"store": str(store.path), "rows": len(kept), "rows_dropped": len(labels) - len(kept)}
        results[name] = {}
        for layer in layer_progress(select_layers(store, layers), f"probe {name}", progress):
            features = IndexedRows(store.features(layer), kept)
            scored = probe_layers(  # the split and control labels follow from the seed: shared by layers
                {layer: features},
                labels[kept],
                groups=None if groups is None else groups[kept],
                control=control,
                control_types=None if types is None else types[kept],
                test_size=test_size,
                seed=seed,
                C=C,
                max_iter=max_iter,
            )[layer]
            record: dict[str, Any] = dict(vars(scored))
            if mdl:
                code = mdl_online_codelength(np.asarray(features), labels[kept], seed=seed, C=C)
                record.update(compression=code.compression, online_bits=code.online_bits)
            results[name][layer] = record
        chance[name] = {"accuracy": scored.majority}
    return ExperimentResult(
        analysis=f"probe_{target}",
        ylabel=f"{target} probe accuracy",
        primary="accuracy",
        measures=measures,
        layers=results,
        chance=chance,
        inputs=inputs,
    )


def _types(store: FeatureStore, by: str | None, manifest: Manifest | None) -> np.ndarray | None:
    if by is None:
        return None
    if by == "utterance":
        return row_utterances(store)
    return row_targets(store, by, manifest)
