"""Decompose a corpus into the feature store, and summarise the stored decomposition's quality.

:func:`decompose_corpus` runs :func:`speechrep.store.extract_features` with a
:class:`~speechrep.decvae.decomposition.upstream.DecompositionUpstream` (span ``frame``: one stored
row per frame, or per sample at utterance level), so the cache is content-keyed, sharded, atomic and
resumable like every other feature. :func:`store_quality` reads it back utterance by utterance and
returns the :class:`~speechrep.decvae.decomposition.quality.QualityReport` of what was stored.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from speechrep.data.manifest import Manifest
from speechrep.decvae.decomposition.quality import QualityAccumulator, QualityReport
from speechrep.decvae.decomposition.upstream import DecompositionUpstream
from speechrep.store import ExtractionSettings, FeatureStore, ProcessGroup, extract_features

log = logging.getLogger(__name__)


def decompose_corpus(
    manifest: Manifest,
    upstream: DecompositionUpstream,
    store_root: str | os.PathLike,
    shard_seconds: float = 300.0,
    batch_seconds: float = 60.0,
    group: ProcessGroup | None = None,
    progress: bool | None = None,
) -> FeatureStore:
    """Decompose every utterance of ``manifest`` into a feature store (reused when already complete)."""
    settings = ExtractionSettings(
        layers=None, span="frame", shard_seconds=shard_seconds, batch_seconds=batch_seconds
    )
    return extract_features(manifest, upstream, store_root, settings, group=group, progress=progress)


def store_quality(store: FeatureStore) -> QualityReport:
    """Reconstruction error and orthogonality of a stored decomposition, over all its rows' signals."""
    components = sorted(
        (layer for layer in store.layers if layer.startswith("comp.")), key=lambda name: int(name[5:])
    )
    per_sample = store.meta["upstream"]["fingerprint"]["level"] == "utterance"
    accumulator = QualityAccumulator()
    for utt in store.utterance_ids:
        x = store.get("input", utt)
        comps = np.stack([store.get(layer, utt) for layer in components], axis=1)  # (rows, C, dim)
        residue = store.get("residue", utt)
        padded = store.get("padded", utt) > 0.5
        if per_sample:  # (N, 1) sample rows → one signal of N samples
            x, comps, residue = x.T, comps.transpose(2, 1, 0), residue.T
        if len(x):
            accumulator.update(x, comps, padded, residue)
    return accumulator.report()


def decompose_from_config(cfg: Any) -> tuple[FeatureStore, QualityReport]:
    """Run the ``decompose`` entry script's work from its composed config; write ``results.json``."""
    from pathlib import Path

    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from speechrep.data.sampling import read_utterance_list
    from speechrep.utils.io import atomic_write_json
    from speechrep.utils.provenance import environment_versions
    from speechrep.utils.seeding import seed_everything

    seed_everything(cfg.seed)
    group = ProcessGroup.from_accelerate()
    manifest = instantiate(cfg.dataset)
    if cfg.utterances_file:
        manifest = manifest.select(read_utterance_list(cfg.utterances_file))
    decomposition = instantiate(cfg.decomposition, device=cfg.device or group.device)
    upstream = instantiate(cfg.upstream, decomposition=decomposition, _convert_="all")
    store = decompose_corpus(
        manifest, upstream, cfg.store_root, cfg.shard_seconds, cfg.batch_seconds, group, cfg.progress
    )
    report = store_quality(store)
    if group.is_main:
        atomic_write_json(
            Path(cfg.paths.output_dir) / "results.json",
            {
                "task": cfg.task_name,
                "seed": cfg.seed,
                "store": str(store.path),
                "method": decomposition.fingerprint(),
                "quality": report.as_dict(),
                "config": OmegaConf.to_container(cfg, resolve=True),
                "versions": environment_versions(),
            },
        )
    log.info("decomposition quality: %s", report)
    return store, report
