"""On-disk layout of a feature store, and its content-addressed key.

A store holds the features of one upstream for one manifest, one span kind and a set of layers::

    <store_root>/<slug>-<key[:16]>/
        meta.json                 what was extracted (settings, upstream fingerprint, manifest hash, versions)
        shards/<00000>/           one folder per block of `shard_size` utterances (manifest order)
            <layer>.npy           float16 rows of that block
            index.json            written last: the shard is complete iff it exists
        layers/<layer>.npy        float16 (rows, dim), all shards concatenated (memory-mapped on read)
        layers/<layer>.offsets.npy  int64 (num_utterances + 1,) row ranges per utterance
        index.json                utterances, segments, per-layer dims and hops, skipped files
        COMPLETE                  written last by the merge

The key hashes the manifest's content, the upstream's fingerprint and every setting that changes the
numbers, so a changed input never silently reuses a stale store.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

#: Bump when the layout or the meaning of stored numbers changes: old stores then get new keys.
STORE_FORMAT_VERSION = 1

#: Span kinds: what one stored row is.
SPANS = ("frame", "phone", "word", "utterance")


def store_key(manifest_hash: str, upstream_fingerprint: dict[str, Any], settings: dict[str, Any]) -> str:
    """SHA-256 over everything that determines the stored numbers."""
    payload = {
        "format": STORE_FORMAT_VERSION,
        "manifest": manifest_hash,
        "upstream": upstream_fingerprint,
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def store_dir_name(upstream_name: str, span: str, key: str) -> str:
    """A readable, filesystem-safe folder name: ``<upstream>-<span>-<key prefix>``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", upstream_name).strip("_")[-48:] or "upstream"
    return f"{slug}-{span}-{key[:16]}"


def shard_dir(store: Path, shard: int) -> Path:
    return store / "shards" / f"{shard:05d}"


def layer_file(folder: Path, layer: str) -> Path:
    return folder / f"{layer}.npy"


def offsets_file(folder: Path, layer: str) -> Path:
    return folder / f"{layer}.offsets.npy"
