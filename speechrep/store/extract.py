"""Layer-wise feature extraction into a feature store: streamed, resumable, sharded across processes.

The manifest is cut into shards of consecutive utterances (about ``shard_seconds`` of audio each,
decided from the manifest alone). Shard ``i`` is done by process ``i % num_processes``, so one and
several processes write the same shards, and the merged store is identical. A shard is written
atomically and marked complete by its ``index.json``, written last; a restarted run skips complete
shards, so an extraction killed at any point (even SIGKILL) resumes without redoing them. Peak
memory is one shard, whatever the corpus length.

Bad utterances (missing, empty or non-finite audio; alignments outside the audio; non-finite or
float16-overflowing features) are skipped, recorded with their reason, and reported at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from speechrep.data.audio import load_audio
from speechrep.data.errors import SpeechrepDataError
from speechrep.data.manifest import SILENCE_LABELS, Manifest, Utterance, validate_utterance
from speechrep.store.layout import SPANS, layer_file, offsets_file, shard_dir, store_dir_name, store_key
from speechrep.store.store import FeatureStore, StoreError
from speechrep.upstream import Upstream, check_layers
from speechrep.upstream.frames import cnn_pooling_to_10ms, pool_segments, pool_to_10ms
from speechrep.utils.io import atomic_open, atomic_save_npy, atomic_write_json, atomic_write_text
from speechrep.utils.processes import launched_processes, refuse_unjoined_processes
from speechrep.utils.progress import show_progress
from speechrep.utils.provenance import environment_versions

log = logging.getLogger(__name__)

FLOAT16_MAX = float(np.finfo(np.float16).max)


class SegmentRefLike(Protocol):
    """A chosen segment: the utterance, its position in the phone/word list, label and times."""

    utt_id: str
    index: int
    label: str
    start: float
    end: float


@dataclass
class ExtractionSettings:
    """Everything that changes the stored numbers (and so the store key), plus how to batch.

    Attributes:
        layers: layer names to store; ``None`` stores every layer of the upstream.
        span: what a row is: ``frame``, ``phone``, ``word`` (segment means) or ``utterance`` (mean).
        middle_third: for segment spans, average only the middle third of each segment's frames
            (the layer-wise analysis "offset" for phones).
        cnn_to_10ms: box-filter CNN layers with a hop under 10 ms to 25 ms windows every 10 ms,
            for comparison with mel frames.
        exclude_labels: segment labels never stored (silences by default).
        shard_seconds: audio per shard; bounds peak memory and the work lost to a crash.
        batch_seconds: audio per forward pass (the upstream decides padding vs exact-length buckets).
    """

    layers: list[str] | None = None
    span: str = "frame"
    middle_third: bool = False
    cnn_to_10ms: bool = False
    exclude_labels: list[str] = field(default_factory=lambda: sorted(SILENCE_LABELS))
    shard_seconds: float = 300.0
    batch_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.span not in SPANS:
            raise ValueError(f"span must be one of {SPANS}, got {self.span!r}")
        if self.middle_third and self.span not in ("phone", "word"):
            raise ValueError("middle_third applies to segment spans (phone, word) only")
        if self.shard_seconds <= 0 or self.batch_seconds <= 0:
            raise ValueError("shard_seconds and batch_seconds must be positive")

    def key_fields(self, layers: list[str]) -> dict[str, Any]:
        """The settings that determine the numbers (batching does not: batched == unbatched)."""
        fields = asdict(self)
        fields.pop("shard_seconds")  # shards are merged; their size does not change the result
        fields.pop("batch_seconds")
        fields["layers"] = layers
        return fields


@dataclass
class ProcessGroup:
    """Which part of the work this process does, and how to wait for the others."""

    index: int = 0
    count: int = 1
    barrier: Callable[[], None] = lambda: None
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.index == 0

    @classmethod
    def from_accelerate(cls) -> ProcessGroup:
        """The process group of ``accelerate launch`` (a single process when not launched).

        Several processes without CUDA are joined as CPU processes over gloo (``cpu=True``):
        accelerate otherwise leaves each process of ``launch --multi_gpu`` alone (and ``launch
        --cpu`` starts only one). A single process keeps accelerate's own device choice. Processes
        that were launched but not joined would all write every shard, so they are refused.
        """
        from accelerate import PartialState

        state = PartialState(cpu=launched_processes() > 1 and not torch.cuda.is_available())
        refuse_unjoined_processes(
            state.num_processes,
            "every process would write every shard",
            "Launch with `accelerate launch --multi_gpu --num_processes N`.",
        )
        return cls(state.process_index, state.num_processes, state.wait_for_everyone, str(state.device))


# ---------------------------------------------------------------------------------------------------
def extract_features(
    manifest: Manifest,
    upstream: Upstream,
    store_root: str | os.PathLike,
    settings: ExtractionSettings | None = None,
    segments: Sequence[SegmentRefLike] | None = None,
    group: ProcessGroup | None = None,
    progress: bool | None = None,
) -> FeatureStore:
    """Extract ``settings.layers`` of ``upstream`` for every utterance of ``manifest`` into a store.

    ``segments`` (segment spans only) restricts the rows to these chosen segments (the sampling step
    of the layer-wise recipe); otherwise every phone/word not in ``exclude_labels`` is stored.
    Returns the opened store; an existing complete store with the same key is returned as is.
    """
    settings = settings or ExtractionSettings()
    group = group or ProcessGroup()
    layers = check_layers(upstream, settings.layers if settings.layers is not None else upstream.layer_names)
    chosen = _chosen_segments(manifest, settings, segments)
    key_settings = settings.key_fields(layers)
    key_settings["segments"] = _segments_digest(chosen) if segments is not None else None
    fingerprint = upstream.fingerprint()
    key = store_key(manifest.content_hash(), fingerprint, key_settings)
    path = Path(store_root) / store_dir_name(upstream.name, settings.span, key)

    if (path / "COMPLETE").is_file():
        log.info("feature store %s is complete; reusing it", path)
        return FeatureStore(path)

    shards = plan_shards(manifest, settings.shard_seconds)
    meta = {
        "key": key,
        "upstream": {"name": upstream.name, "fingerprint": fingerprint},
        "settings": key_settings | {"shard_seconds": settings.shard_seconds},
        "manifest": {"name": manifest.name, "hash": manifest.content_hash(), "utterances": len(manifest)},
        "num_shards": len(shards),
        "versions": environment_versions(),
    }
    if group.is_main:
        atomic_write_json(path / "meta.json", meta)

    mine = [i for i in range(len(shards)) if i % group.count == group.index]
    todo = [i for i in mine if not (shard_dir(path, i) / "index.json").is_file()]
    log.info(
        "process %d of %d: %d of %d shards are its own", group.index, group.count, len(mine), len(shards)
    )
    if len(todo) < len(mine):
        log.info(
            "resuming %s: %d of %d shards of this process already done",
            path,
            len(mine) - len(todo),
            len(mine),
        )
    show = show_progress(progress) and group.is_main
    worker = _ShardWorker(upstream, layers, settings, chosen)
    with ThreadPoolExecutor(max_workers=1) as loader:
        pending = {
            i: loader.submit(_load_shard_audio, manifest, shards[i], upstream.sample_rate) for i in todo[:1]
        }
        for n, shard in enumerate(
            tqdm(todo, desc=f"extract {upstream.name}", disable=not show, unit="shard")
        ):
            loaded = pending.pop(shard).result()
            if n + 1 < len(todo):  # read the next shard's audio while this one runs through the model
                nxt = todo[n + 1]
                pending[nxt] = loader.submit(_load_shard_audio, manifest, shards[nxt], upstream.sample_rate)
            worker.write_shard(shard_dir(path, shard), loaded)

    group.barrier()
    if group.is_main:
        _merge_shards(path, manifest, shards, layers)
    group.barrier()
    store = FeatureStore(path)
    _report_skipped(store)
    return store


def extract_from_config(cfg: Any) -> FeatureStore:
    """Run :func:`extract_features` from a composed ``extract_features`` config (the entry script)."""
    from hydra.utils import instantiate

    from speechrep.data.sampling import read_segment_list, read_utterance_list
    from speechrep.utils.seeding import seed_everything

    seed_everything(cfg.seed)
    group = ProcessGroup.from_accelerate()
    manifest = instantiate(cfg.dataset)
    if cfg.utterances_file:
        manifest = manifest.select(read_utterance_list(cfg.utterances_file))
    upstream = instantiate(cfg.upstream, device=group.device)
    settings = instantiate(cfg.extraction, _convert_="all")
    segments = read_segment_list(cfg.segments_file) if cfg.segments_file else None
    return extract_features(manifest, upstream, cfg.store_root, settings, segments, group, cfg.progress)


def plan_shards(manifest: Manifest, shard_seconds: float) -> list[tuple[int, int]]:
    """Cut the manifest into runs ``[first, last)`` of about ``shard_seconds`` of audio each."""
    shards, first, total = [], 0, 0.0
    for i, utt in enumerate(manifest):
        if i > first and total + utt.duration > shard_seconds:
            shards.append((first, i))
            first, total = i, 0.0
        total += utt.duration
    if first < len(manifest):
        shards.append((first, len(manifest)))
    return shards


# ---------------------------------------------------------------------------------------------------
@dataclass
class _Loaded:
    """One utterance of a shard: its audio, or why it was skipped."""

    utt: Utterance
    wave: np.ndarray | None = None
    reason: str | None = None


def _load_shard_audio(manifest: Manifest, bounds: tuple[int, int], sample_rate: int) -> list[_Loaded]:
    items = []
    for utt in manifest[bounds[0] : bounds[1]]:
        problems = validate_utterance(utt)
        if problems:
            items.append(_Loaded(utt, reason="; ".join(problems)))
            continue
        try:
            wave = load_audio(utt.audio_path, sample_rate)
        except SpeechrepDataError as error:
            items.append(_Loaded(utt, reason=str(error)))
            continue
        end = max((s.end for s in utt.phones + utt.words), default=0.0)
        if end > len(wave) / sample_rate + 0.02:
            items.append(
                _Loaded(
                    utt,
                    reason=f"{utt.id}: alignment ends at {end:.3f}s, past the audio "
                    f"{utt.audio_path} ({len(wave) / sample_rate:.3f}s)",
                )
            )
            continue
        items.append(_Loaded(utt, wave=wave))
    return items


class _ShardWorker:
    """Runs one shard through the upstream and writes its rows atomically."""

    def __init__(
        self,
        upstream: Upstream,
        layers: list[str],
        settings: ExtractionSettings,
        chosen: dict[str, list[tuple[int, str, float, float]]] | None,
    ) -> None:
        self.upstream = upstream
        self.layers = layers
        self.settings = settings
        self.chosen = chosen
        self.pooling = {
            layer: cnn_pooling_to_10ms(upstream, layer) if settings.cnn_to_10ms else None for layer in layers
        }

    def hop_seconds(self, layer: str) -> float:
        hop = 160 if self.pooling[layer] is not None else self.upstream.hop_length(layer)
        return hop / self.upstream.sample_rate

    def write_shard(self, folder: Path, items: list[_Loaded]) -> None:
        rows: dict[str, list[np.ndarray]] = {layer: [] for layer in self.layers}
        index: dict[str, Any] = {
            "utterances": [],
            "rows": {layer: [] for layer in self.layers},
            "skipped": [],
        }
        segments: dict[str, list] = {"utterance": [], "index": [], "label": [], "start": [], "end": []}
        for item, features in self._forward(items):
            if features is None:
                index["skipped"].append({"id": item.utt.id, "reason": item.reason})
                continue
            spans = self._segments_of(item.utt)
            pooled, reason = self._pool(item.utt, features, spans)
            if reason is not None:
                index["skipped"].append({"id": item.utt.id, "reason": reason})
                continue
            index["utterances"].append(item.utt.id)
            for layer in self.layers:
                rows[layer].append(pooled[layer])
                index["rows"][layer].append(len(pooled[layer]))
            if spans is not None:
                for position, label, start, end in spans:
                    segments["utterance"].append(item.utt.id)
                    segments["index"].append(position)
                    segments["label"].append(label)
                    segments["start"].append(start)
                    segments["end"].append(end)
        index["segments"] = segments
        index["layers"] = {}
        for layer in self.layers:
            dim = self._dim(layer, rows[layer])
            array = np.concatenate(rows[layer]) if rows[layer] else np.zeros((0, dim), np.float16)
            atomic_save_npy(layer_file(folder, layer), array)
            index["layers"][layer] = {"dim": dim, "hop_seconds": self.hop_seconds(layer)}
        atomic_write_json(folder / "index.json", index)  # last: marks the shard complete

    def _dim(self, layer: str, arrays: list[np.ndarray]) -> int:
        if arrays:
            return int(arrays[0].shape[1])
        probe = self.upstream.extract([torch.zeros(self.upstream.sample_rate)], [layer])[0][layer]
        return int(probe.shape[1])

    def _forward(self, items: list[_Loaded]) -> Iterator[tuple[_Loaded, dict[str, torch.Tensor] | None]]:
        """Yield each item with its per-layer features (``None`` when skipped), in shard order."""
        ready = [i for i, item in enumerate(items) if item.wave is not None]
        ready.sort(key=lambda i: len(items[i].wave))  # similar lengths together: less padding
        results: dict[int, dict[str, torch.Tensor]] = {}
        limit = self.settings.batch_seconds * self.upstream.sample_rate
        batch: list[int] = []
        for i in [*ready, None]:
            if batch and (i is None or sum(len(items[j].wave) for j in batch) + len(items[i].wave) > limit):
                outputs = self.upstream.extract([torch.from_numpy(items[j].wave) for j in batch], self.layers)
                results.update(zip(batch, outputs))
                batch = []
            if i is not None:
                batch.append(i)
        for i, item in enumerate(items):
            yield item, results.get(i)

    def _segments_of(self, utt: Utterance) -> list[tuple[int, str, float, float]] | None:
        if self.settings.span not in ("phone", "word"):
            return None
        if self.chosen is not None:
            return self.chosen.get(utt.id, [])
        excluded = set(self.settings.exclude_labels)
        return [
            (i, s.label, s.start, s.end)
            for i, s in enumerate(utt.segments(self.settings.span))
            if s.label not in excluded
        ]

    def _pool(
        self, utt: Utterance, features: dict[str, torch.Tensor], spans: list | None
    ) -> tuple[dict[str, np.ndarray], str | None]:
        pooled = {}
        for layer in self.layers:
            x = features[layer].float()
            if self.pooling[layer] is not None:
                x = pool_to_10ms(x, *self.pooling[layer])
            if self.settings.span == "utterance":
                x = x.mean(dim=0, keepdim=True)
            elif spans is not None:
                times = [(start, end) for _, _, start, end in spans]
                x = torch.as_tensor(
                    pool_segments(x, times, self.hop_seconds(layer), middle_third=self.settings.middle_third)
                ).reshape(len(times), x.shape[1])
            x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
            if not np.isfinite(x).all():
                return {}, f"{utt.id}: non-finite features in layer {layer}"
            if np.abs(x).max(initial=0.0) > FLOAT16_MAX:
                return {}, f"{utt.id}: layer {layer} exceeds the float16 range"
            pooled[layer] = x.astype(np.float16)
        return pooled, None


# ---------------------------------------------------------------------------------------------------
def _merge_shards(path: Path, manifest: Manifest, shards: list[tuple[int, int]], layers: list[str]) -> None:
    """Concatenate the shards into one memory-mapped array per layer, then mark the store complete."""
    indices = []
    for i in range(len(shards)):
        index_path = shard_dir(path, i) / "index.json"
        if not index_path.is_file():
            raise StoreError(f"{path}: shard {i} is missing after all processes finished")
        indices.append(json.loads(index_path.read_text()))
    out = path / "layers"
    out.mkdir(parents=True, exist_ok=True)
    merged: dict[str, Any] = {
        "utterances": [u for index in indices for u in index["utterances"]],
        "skipped": [s for index in indices for s in index["skipped"]],
        "layers": indices[0]["layers"] if indices else {},
        "segments": {
            k: [v for index in indices for v in index["segments"][k]] for k in indices[0]["segments"]
        }
        if indices
        else {},
    }
    for layer in layers:
        counts = np.array([n for index in indices for n in index["rows"][layer]], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        dim = merged["layers"][layer]["dim"]
        with atomic_open(layer_file(out, layer), "wb") as handle:
            header = {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                "fortran_order": False,
                "shape": (int(offsets[-1]), dim),
            }
            np.lib.format.write_array_header_1_0(handle, header)
            for i in range(len(shards)):  # stream shard by shard: memory stays at one shard
                part = np.load(layer_file(shard_dir(path, i), layer))
                handle.write(np.ascontiguousarray(part, dtype=np.float16).tobytes())
        atomic_save_npy(offsets_file(out, layer), offsets)
    atomic_write_json(path / "index.json", merged)
    atomic_write_text(path / "COMPLETE", f"{len(merged['utterances'])} utterances\n")
    shutil.rmtree(path / "shards", ignore_errors=True)


def _chosen_segments(
    manifest: Manifest, settings: ExtractionSettings, segments: Sequence[SegmentRefLike] | None
) -> dict[str, list[tuple[int, str, float, float]]] | None:
    if segments is None:
        return None
    if settings.span not in ("phone", "word"):
        raise ValueError(f"a segment list needs span 'phone' or 'word', not {settings.span!r}")
    chosen: dict[str, list[tuple[int, str, float, float]]] = {}
    for ref in segments:
        if ref.utt_id not in manifest:
            raise StoreError(f"segment list names utterance {ref.utt_id!r}, which is not in the manifest")
        chosen.setdefault(ref.utt_id, []).append(
            (int(ref.index), str(ref.label), float(ref.start), float(ref.end))
        )
    for spans in chosen.values():
        spans.sort()
    return chosen


def _segments_digest(chosen: dict[str, list] | None) -> str:
    return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()


def _report_skipped(store: FeatureStore) -> None:
    skipped = store.skipped
    if skipped:
        lines = "\n  ".join(f"{s['id']}: {s['reason']}" for s in skipped[:20])
        more = (
            f"\n  ... and {len(skipped) - 20} more (all listed in {store.path / 'index.json'})"
            if len(skipped) > 20
            else ""
        )
        log.warning(
            "skipped %d of %d utterances:\n  %s%s",
            len(skipped),
            len(skipped) + len(store.utterance_ids),
            lines,
            more,
        )


__all__ = ["ExtractionSettings", "ProcessGroup", "extract_features", "plan_shards"]
