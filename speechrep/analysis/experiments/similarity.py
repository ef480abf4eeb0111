"""Training-free similarity tasks per layer (Pasad et al. 2024, TACL): word similarity and spoken STS.

* ``wordsim``: word-type embeddings (mean of the word's segment means) of a word-span store,
  cosine per benchmark pair, Spearman's rho against the human scores per benchmark, the macro
  (benchmark mean) and micro (pair-weighted) averages and each benchmark's coverage
  (:mod:`speechrep.analysis.wordsim`; benchmark files: two words and a score per line).
* ``sts``: utterance vectors (mean of all frames) of a frame- or utterance-span store, cosine
  averaged over the speaker pairings of each sentence pair, Spearman's rho against the gold scores
  (:mod:`speechrep.analysis.sts`, whose docstring gives the pairs-file format:
  ``pair_id<TAB>utt_a<TAB>utt_b<TAB>score``, one row per speaker pairing).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from speechrep.analysis.experiments.inputs import layer_progress, require_span, select_layers
from speechrep.analysis.experiments.results import ExperimentResult
from speechrep.analysis.sts import evaluate_sts, read_sts_pairs, utterance_vectors_from_store
from speechrep.analysis.wordsim import (
    WordPair,
    evaluate_wordsim,
    load_wordsim_benchmarks,
    read_wordsim_benchmark,
    word_embeddings,
)
from speechrep.store import FeatureStore

AVERAGES = ("micro", "macro")


def read_benchmarks(
    benchmarks: str | os.PathLike | Sequence[str | os.PathLike], names: Sequence[str] | None = None
) -> dict[str, list[WordPair]]:
    """Benchmarks keyed by file stem: every benchmark file of a folder (or ``names`` of it), or a list
    of files."""
    if isinstance(benchmarks, str | os.PathLike):
        return load_wordsim_benchmarks(benchmarks, names)
    table = {Path(p).stem: read_wordsim_benchmark(p) for p in benchmarks}
    if len(table) != len(benchmarks):
        raise ValueError(f"benchmark files share a name: {[str(p) for p in benchmarks]}")
    return table


def run_wordsim(
    stores: Mapping[str, FeatureStore],
    *,
    benchmarks: str | Sequence[str],
    names: Sequence[str] | None = None,
    average: str = "micro",
    layers: Sequence[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool | None = None,
) -> ExperimentResult:
    """Word similarity per layer of each word-span store against the benchmarks (module docstring).

    ``benchmarks`` is a folder (``names`` picks files by stem) or a list of files; ``average``
    (micro or macro) is the layer's score. ``seed`` and ``device`` are unused: the task is
    deterministic and runs on the CPU.
    """
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    pairs = read_benchmarks(benchmarks, names)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name, store in stores.items():
        require_span(store, ("word",), "word similarity")
        results[name] = {}
        for layer in layer_progress(select_layers(store, layers), f"wordsim {name}", progress):
            scored = evaluate_wordsim(word_embeddings(store.features(layer), store.segments.label), pairs)
            results[name][layer] = {
                "score": scored.micro if average == "micro" else scored.macro,
                "micro": scored.micro,
                "macro": scored.macro,
                "benchmarks": {
                    bench: {
                        "spearman": s.spearman,
                        "num_pairs": s.num_pairs,
                        "total_pairs": s.total_pairs,
                        "coverage": s.coverage,
                    }
                    for bench, s in scored.benchmarks.items()
                },
            }
    source = [str(benchmarks)] if isinstance(benchmarks, str | os.PathLike) else [str(b) for b in benchmarks]
    return ExperimentResult(
        analysis="wordsim",
        ylabel=f"Spearman rho ({average} average)",
        primary="score",
        measures=["score"],
        layers=results,
        inputs={"benchmarks": source, "pairs": {bench: len(p) for bench, p in pairs.items()}},
    )


def run_sts(
    stores: Mapping[str, FeatureStore],
    *,
    pairs: str,
    average_pairings: bool = True,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool | None = None,
) -> ExperimentResult:
    """Spoken STS per layer of each frame- or utterance-span store (module docstring).

    ``pairs`` is the STS pairs file; ``average_pairings=False`` scores every speaker pairing as its
    own item. ``seed`` and ``device`` are unused (deterministic, CPU).
    """
    sentence_pairs = read_sts_pairs(pairs)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name, store in stores.items():
        require_span(store, ("frame", "utterance"), "spoken STS")
        results[name] = {}
        for layer in layer_progress(select_layers(store, layers), f"sts {name}", progress):
            vectors = utterance_vectors_from_store(store, layer)
            scored = evaluate_sts(vectors, sentence_pairs, average_pairings=average_pairings)
            results[name][layer] = {
                "score": scored.spearman,
                "num_pairs": scored.num_pairs,
                "num_pairings": scored.num_pairings,
                "missing": scored.missing,
            }
    return ExperimentResult(
        analysis="sts",
        ylabel="Spearman rho",
        primary="score",
        measures=["score"],
        layers=results,
        inputs={"pairs": str(pairs), "sentence_pairs": len(sentence_pairs)},
    )
