"""On-disk cache of frozen-encoder features, so that the probes of one module encode a corpus once.

SIM's probes re-encode every utterance in every epoch; :mod:`speechrep.infomax.features` encodes
once per run, and this cache keeps that one encoding across runs: the syllable and the vowel
probe of a module (same clips, same encoder) share one entry, and so do repeated probe runs.

An entry holds the features of one module for one manifest. Its key is
:func:`speechrep.store.layout.store_key` (the feature store's content-addressed key) over

- the manifest's :meth:`~speechrep.data.manifest.Manifest.content_hash`,
- the encoder's fingerprint: its config and the SHA-256 of its weights
  (:func:`~speechrep.utils.hashing.state_dict_sha256`),
- the encoding settings (:class:`FeatureSettings`, plus the module),

so retrained weights, an edited manifest or other settings give a new key and stale features are
never reused. Layout::

    <cache_dir>/module.<m>-<key[:16]>/
        features.npy    float32 (rows, D): every utterance's frames, in manifest order
        offsets.npy     int64 (N + 1,): utterance n is rows offsets[n]:offsets[n + 1]
        meta.json       key, settings, fingerprint, manifest hash; written last (entry complete)

Entries are float32 (what the in-memory path gives), so a cached run's numbers equal an uncached
run's. Every file is written atomically (:mod:`speechrep.utils.io`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from speechrep.data.manifest import Manifest
from speechrep.infomax.encoder import InfoMaxEncoder
from speechrep.infomax.features import encode_manifest
from speechrep.store.layout import store_key
from speechrep.utils.hashing import state_dict_sha256
from speechrep.utils.io import atomic_save_npy, atomic_write_json

log = logging.getLogger(__name__)

META_FILE = "meta.json"


@dataclass(frozen=True)
class FeatureSettings:
    """How a manifest is encoded (every field changes the numbers, so every field is in the key).

    Attributes:
        deterministic: μ of variational modules (the probe setting); ``False``: one sample each.
        crop_samples: encode the centred crop of this many samples; ``None``: whole utterances.
        sample_rate: rate the audio is read at.
        seed: seeds the samples when not ``deterministic`` (unused, and not keyed, otherwise).
    """

    deterministic: bool = True
    crop_samples: int | None = None
    sample_rate: int = 16_000
    seed: int = 0

    def key_fields(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        if self.deterministic:
            del fields["seed"]
        return fields


def encoder_fingerprint(encoder: InfoMaxEncoder) -> dict[str, Any]:
    """What identifies an encoder's features: its config and its weights."""
    return {"config": encoder.config.to_dict(), "weights_sha256": state_dict_sha256(encoder)}


def cached_encode(
    encoder: InfoMaxEncoder,
    manifest: Manifest,
    modules: Sequence[int],
    settings: FeatureSettings,
    cache_dir: str | os.PathLike | None,
) -> dict[int, list[Tensor]]:
    """:func:`~speechrep.infomax.features.encode_manifest` through the cache in ``cache_dir``.

    Modules with a complete entry are read; the others are encoded in one pass and written.
    ``cache_dir=None`` encodes without caching. Returns module -> one ``(L, D)`` tensor per utterance.
    """
    if cache_dir is None:
        return _encode(encoder, manifest, modules, settings)
    fingerprint = encoder_fingerprint(encoder)
    manifest_hash = manifest.content_hash()
    entries = {}
    for m in modules:
        key_settings = {"module": m, **settings.key_fields()}
        key = store_key(manifest_hash, fingerprint, key_settings)
        entries[m] = (Path(cache_dir) / f"module.{m}-{key[:16]}", key, key_settings)
    out = {m: _read(path) for m, (path, _, _) in entries.items() if (path / META_FILE).is_file()}
    missing = [m for m in modules if m not in out]
    if out:
        log.info("features of modules %s read from %s", sorted(out), cache_dir)
    if missing:
        fresh = _encode(encoder, manifest, missing, settings)
        for m in missing:
            path, key, key_settings = entries[m]
            meta = {
                "key": key,
                "settings": key_settings,
                "encoder": fingerprint,
                "manifest": {"name": manifest.name, "hash": manifest_hash, "utterances": len(manifest)},
            }
            _write(path, fresh[m], meta)
        out.update(fresh)
    return {m: out[m] for m in modules}


def _encode(
    encoder: InfoMaxEncoder, manifest: Manifest, modules: Sequence[int], settings: FeatureSettings
) -> dict[int, list[Tensor]]:
    return encode_manifest(
        encoder,
        manifest,
        modules,
        deterministic=settings.deterministic,
        crop_samples=settings.crop_samples,
        sample_rate=settings.sample_rate,
        seed=None if settings.deterministic else settings.seed,
    )


def _write(path: Path, features: list[Tensor], meta: dict[str, Any]) -> None:
    offsets = np.cumsum([0, *(len(f) for f in features)], dtype=np.int64)
    atomic_save_npy(path / "features.npy", torch.cat(features).numpy().astype(np.float32, copy=False))
    atomic_save_npy(path / "offsets.npy", offsets)
    atomic_write_json(path / META_FILE, meta)


def _read(path: Path) -> list[Tensor]:
    features = torch.from_numpy(np.load(path / "features.npy"))
    offsets = np.load(path / "offsets.npy")
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    if len(offsets) != meta["manifest"]["utterances"] + 1 or offsets[-1] != len(features):
        raise ValueError(f"feature cache entry {path} is inconsistent; delete the folder to recompute it")
    return [features[a:b] for a, b in itertools.pairwise(offsets)]
