"""abx: ABX phone discrimination error per layer, within and across speakers (ZeroSpeech conventions).

Items are the manifest's phone segments cut from a frame-span store's rows; frames are compared with
the angular distance under DTW (:mod:`speechrep.analysis.abx`). 0 is perfect discrimination, 0.5
chance; lower is better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from speechrep.analysis.abx import abx_from_store
from speechrep.analysis.experiments.inputs import layer_progress, require_span, select_layers
from speechrep.analysis.experiments.results import ExperimentResult
from speechrep.data.manifest import Manifest
from speechrep.store import FeatureStore

MODES = ("within", "across")


def run_abx(
    stores: Mapping[str, FeatureStore],
    *,
    manifest: str,
    modes: Sequence[str] = MODES,
    context: str = "triphone",
    max_items_per_cell: int | None = 10,
    max_x_speakers: int = 5,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool | None = None,
) -> ExperimentResult:
    """ABX error of each layer of each frame-span store for every speaker ``mode``.

    ``manifest`` is the manifest the stores were extracted from (its phone alignments are the items,
    its speakers the speaker condition). ``context``, ``max_items_per_cell`` and ``max_x_speakers``
    go to :func:`speechrep.analysis.abx.abx_error`; ``seed`` draws the cell subsamples.
    """
    modes = list(modes)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty subset of {MODES}, got {modes}")
    aligned = Manifest.load(manifest)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name, store in stores.items():
        require_span(store, ("frame",), "ABX")
        results[name] = {}
        for layer in layer_progress(select_layers(store, layers), f"abx {name}", progress):
            record: dict[str, Any] = {}
            for mode in modes:
                scored = abx_from_store(
                    store,
                    layer,
                    aligned,
                    mode=mode,
                    context=context,
                    max_items_per_cell=max_items_per_cell,
                    max_x_speakers=max_x_speakers,
                    seed=seed,
                    device=device,
                )
                record[mode] = scored.error
                record[f"{mode}_triplets"] = scored.num_triplets
                record[f"{mode}_pairs"] = scored.num_pairs
            results[name][layer] = record
    return ExperimentResult(
        analysis="abx",
        ylabel=f"ABX error ({context})",
        primary=modes[0],
        measures=modes,
        layers=results,
        chance={name: dict.fromkeys(modes, 0.5) for name in stores},
        inputs={"manifest": str(manifest), "stores": {n: str(s.path) for n, s in stores.items()}},
    )
