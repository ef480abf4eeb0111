"""mi_phone / mi_word: I(C;Y)/H(Y) of k-means clusters of segment means (Pasad et al. 2021, 2023).

Per layer, k-means (K = 500 for phones, 5000 for words in the papers) is fitted on the segment rows
of one split and every row of another split is assigned to its nearest centre; the score is
I(C;Y)/H(Y) of those clusters against the rows' labels, averaged over seeded repetitions
(:func:`speechrep.analysis.mutual_information.mi_over_seeds`: torch k-means on a CUDA device,
MiniBatchKMeans on the CPU). The fitting split is ``train_stores`` (the reference fits on
train-clean and scores dev-clean), or, without them, a share of each store's utterances held apart
(grouped by utterance, so no utterance is on both sides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from speechrep.analysis.experiments.inputs import layer_progress, require_layers, require_span, select_layers
from speechrep.analysis.experiments.results import ExperimentResult
from speechrep.analysis.mutual_information import mi_over_seeds
from speechrep.analysis.probes import train_test_indices
from speechrep.store import FeatureStore


def run_mi(
    stores: Mapping[str, FeatureStore],
    *,
    train_stores: Sequence[str] | None = None,
    eval_fraction: float = 0.5,
    n_clusters: int = 500,
    batch_size: int = 1500,
    max_iter: int = 500,
    seeds: Sequence[int] = (0, 1, 2),
    n_init: int = 3,
    backend: str = "auto",
    layers: Sequence[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool | None = None,
) -> ExperimentResult:
    """I(C;Y)/H(Y) per layer of each segment store (module docstring).

    ``train_stores[i]`` (same upstream and layers as the i-th store) is where k-means is fitted;
    without them a seeded ``1 - eval_fraction`` of each store's utterances is. ``seeds`` are the
    k-means repetitions; ``seed`` draws the utterance split.
    """
    if train_stores is not None and len(train_stores) != len(stores):
        raise ValueError(f"{len(train_stores)} train_stores for {len(stores)} stores: give one per store")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    inputs: dict[str, Any] = {}
    for i, (name, store) in enumerate(stores.items()):
        require_span(store, ("phone", "word"), "mutual information")
        chosen = select_layers(store, layers)
        if train_stores is not None:
            fit_store = FeatureStore(train_stores[i])
            require_span(fit_store, (store.span,), "the k-means training store")
            require_layers(fit_store, chosen)
            fit_rows, eval_rows = np.arange(len(fit_store.segments)), np.arange(len(store.segments))
        else:
            fit_store = store
            fit_rows, eval_rows = train_test_indices(
                len(store.segments), store.segments.utterance, eval_fraction, seed
            )
        labels = store.segments.label[eval_rows]
        inputs[name] = {"store": str(store.path), "fit_store": str(fit_store.path)}
        results[name] = {}
        for layer in layer_progress(chosen, f"mi {name}", progress):
            scored = mi_over_seeds(
                fit_store.features(layer)[fit_rows],
                store.features(layer)[eval_rows],
                labels,
                seeds,
                n_clusters=n_clusters,
                batch_size=batch_size,
                max_iter=max_iter,
                device=device,
                backend=backend,
                n_init=n_init,
            )
            results[name][layer] = {
                "score": scored.mean,
                "std": scored.std,
                "per_seed": list(scored.per_seed),
                "seeds": list(scored.seeds),
                "n_clusters": scored.n_clusters,
                **scored.sizes,
            }
    return ExperimentResult(
        analysis="mi",
        ylabel="I(C;Y) / H(Y)",
        primary="score",
        measures=["score"],
        layers=results,
        inputs=inputs,
    )
