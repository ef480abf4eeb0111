"""What the experiments read: stores by name, chosen layers, per-row targets and paired rows.

Everything stays on disk until a statistic asks for it: :class:`IndexedRows` is a lazy
``(rows, dim)`` view that reads only the rows of the slice asked for, so CCA and CKA stream paired
rows of two memory-mapped layers (or a layer and a one-hot/embedding table) chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from speechrep.data.manifest import Manifest
from speechrep.store import FeatureStore, StoreError
from speechrep.utils.progress import show_progress

#: Frame hops closer than this (seconds) count as the same frame rate.
HOP_TOLERANCE = 1e-9


class IndexedRows:
    """Rows ``table[index[i]]`` as a lazy (len(index), dim) view; a slice reads only its rows.

    ``table`` is a 2-d array or float16 memory map. Views of paired rows are ``IndexedRows(layer,
    rows)``; a one-hot label view is ``IndexedRows(np.eye(K), codes)`` and an embedding view
    ``IndexedRows(vectors, word_codes)``, without materialising the n x dim matrix.
    """

    def __init__(self, table: np.ndarray, index: np.ndarray) -> None:
        if table.ndim != 2:
            raise ValueError(f"table must be 2-d, got shape {table.shape}")
        self.table = table
        self.index = np.asarray(index, dtype=np.int64)
        if self.index.ndim != 1:
            raise ValueError("index must be 1-d")
        if len(self.index) and (self.index.min() < 0 or self.index.max() >= len(table)):
            raise ValueError(f"index outside the table's {len(table)} rows")

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), int(self.table.shape[1]))

    @property
    def dtype(self) -> np.dtype:
        return self.table.dtype

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key: slice | np.ndarray) -> np.ndarray:
        return np.asarray(self.table[self.index[key]])

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        """Every row at once (for estimators that need them in memory: probes, k-means)."""
        rows = self[:]
        return rows if dtype is None else rows.astype(dtype)

    def __repr__(self) -> str:
        return f"IndexedRows(rows={len(self)}, dim={self.shape[1]})"


def name_stores(paths: Sequence[str], names: Sequence[str] | None = None) -> dict[str, FeatureStore]:
    """Open the stores, keyed by ``names`` or by their upstream names (which must then be distinct)."""
    stores = [FeatureStore(p) for p in paths]
    if not stores:
        raise ValueError("no feature stores given: set stores=[<store folder>, ...]")
    keys = list(names) if names is not None else [s.upstream_name for s in stores]
    if len(keys) != len(stores):
        raise ValueError(f"{len(keys)} store_names for {len(stores)} stores")
    if len(set(keys)) != len(keys):
        raise ValueError(f"stores share a name ({', '.join(keys)}): give each one with store_names=[...]")
    return dict(zip(keys, stores))


def select_layers(store: FeatureStore, layers: Sequence[str] | None) -> list[str]:
    """The listed layers this store holds (in the listed order), or all its layers for ``None``.

    Stores of different upstreams hold different layers (``mel`` vs ``tf.3``), so a list may name
    layers of several; a store holding none of them is an error (so is a name no store holds:
    :func:`check_layer_names`).
    """
    if layers is None:
        return store.layers
    chosen = [layer for layer in layers if layer in store.layers]
    if not chosen:
        raise StoreError(
            f"{store.path} holds none of the layers {', '.join(layers)}; stored: {', '.join(store.layers)}"
        )
    return chosen


def require_layers(store: FeatureStore, layers: Sequence[str]) -> list[str]:
    """``layers``, each of which ``store`` must hold."""
    missing = [layer for layer in layers if layer not in store.layers]
    if missing:
        raise StoreError(
            f"{store.path}: no layer {', '.join(missing)}; stored layers: {', '.join(store.layers)}"
        )
    return list(layers)


def check_layer_names(stores: Mapping[str, FeatureStore], layers: Sequence[str] | None) -> None:
    """Every listed layer is held by at least one store (a typo fails before any work)."""
    unknown = [layer for layer in layers or () if not any(layer in s.layers for s in stores.values())]
    if unknown:
        held = sorted({layer for s in stores.values() for layer in s.layers})
        raise StoreError(f"no store holds layer {', '.join(unknown)}; stored layers: {', '.join(held)}")


def require_span(store: FeatureStore, spans: Sequence[str], what: str) -> None:
    if store.span not in spans:
        raise StoreError(
            f"{what} needs a store of span {' or '.join(spans)}; {store.path} holds {store.span!r} rows "
            "(extract one with extraction.span=...)"
        )


def row_utterances(store: FeatureStore) -> np.ndarray:
    """The utterance id of every row of a segment- or utterance-span store."""
    if store.span in ("phone", "word"):
        return store.segments.utterance
    require_span(store, ("utterance",), "per-row utterance ids")
    return np.asarray(store.utterance_ids, dtype=object)


def row_targets(store: FeatureStore, target: str, manifest: Manifest | None = None) -> np.ndarray:
    """A label per row: ``label`` (the segment's own), ``speaker``, or a key of the utterances'
    ``labels`` (emotion, gender, ...) from ``manifest``."""
    if target == "label":
        require_span(store, ("phone", "word"), "target 'label'")
        return store.segments.label
    if manifest is None:
        raise ValueError(
            f"target {target!r} is read from the manifest: set analysis.manifest=<manifest.jsonl>"
        )
    utterances = row_utterances(store)
    values = {}
    for utt_id in dict.fromkeys(utterances.tolist()):
        if utt_id not in manifest:
            raise ValueError(f"utterance {utt_id!r} of {store.path} is not in the manifest {manifest.name!r}")
        utt = manifest[utt_id]
        value = utt.speaker if target == "speaker" else utt.labels.get(target)
        if value is None:
            raise ValueError(f"utterance {utt_id!r} has no {target!r} in the manifest")
        values[utt_id] = str(value)
    return np.asarray([values[u] for u in utterances.tolist()], dtype=object)


@dataclass(frozen=True)
class Alignment:
    """Paired rows of several (store, layer) views: ``rows[v][i]`` of view v pairs with the others'."""

    rows: tuple[np.ndarray, ...]
    dropped: tuple[int, ...]  # rows of each view left unpaired (frames trimmed, segments missing)

    def __len__(self) -> int:
        return len(self.rows[0])

    def views(self, layers: Sequence[np.ndarray]) -> list[IndexedRows]:
        return [IndexedRows(table, rows) for table, rows in zip(layers, self.rows)]


def align_rows(views: Sequence[tuple[FeatureStore, str]]) -> Alignment:
    """Pair the rows of several (store, layer) views of the same utterances.

    Frame (and utterance) spans: the utterances every view holds, in the first view's order; each
    keeps its first ``min`` frames over the views (the reference truncates mel frames to the model's
    count). All views must share one frame hop. Segment spans: segments matched by (utterance,
    position), which must carry the same label in every view.
    """
    spans = {store.span for store, _ in views}
    if len(spans) != 1:
        raise StoreError(f"cannot pair rows of different spans: {sorted(spans)}")
    if spans <= {"phone", "word"}:
        return _align_segments(views)
    if spans == {"frame"}:
        hops = {(str(s.path), layer): s.hop_seconds(layer) for s, layer in views}
        if max(hops.values()) - min(hops.values()) > HOP_TOLERANCE:
            raise StoreError(f"frames of different hops cannot be paired: {hops}")
    return _align_utterances(views)


def _align_utterances(views: Sequence[tuple[FeatureStore, str]]) -> Alignment:
    held = [set(store.utterance_ids) for store, _ in views]
    common = [u for u in views[0][0].utterance_ids if all(u in h for h in held)]
    if not common:
        raise StoreError(f"the stores share no utterance: {[str(s.path) for s, _ in views]}")
    starts, lengths, totals = [], [], []
    for store, layer in views:
        offsets = store.offsets(layer)
        position = {u: i for i, u in enumerate(store.utterance_ids)}
        index = np.asarray([position[u] for u in common], dtype=np.int64)
        starts.append(offsets[index])
        lengths.append(offsets[index + 1] - offsets[index])
        totals.append(int(offsets[-1]))
    keep = np.min(np.stack(lengths), axis=0)
    within = np.arange(keep.sum()) - np.repeat(np.cumsum(keep) - keep, keep)
    rows = tuple(np.repeat(start, keep) + within for start in starts)
    return Alignment(rows, tuple(total - int(keep.sum()) for total in totals))


def _align_segments(views: Sequence[tuple[FeatureStore, str]]) -> Alignment:
    tables = [store.segments for store, _ in views]
    keys = [{key: i for i, key in enumerate(zip(t.utterance.tolist(), t.index.tolist()))} for t in tables]
    common = [key for key in keys[0] if all(key in k for k in keys[1:])]
    if not common:
        raise StoreError(f"the stores share no segment: {[str(s.path) for s, _ in views]}")
    rows = tuple(np.asarray([k[key] for key in common], dtype=np.int64) for k in keys)
    for (store, _), table, index in zip(views[1:], tables[1:], rows[1:]):
        differ = np.flatnonzero(table.label[index] != tables[0].label[rows[0]])
        if len(differ):
            utt, position = common[differ[0]]
            raise StoreError(
                f"{store.path}: segment {position} of {utt!r} is labelled {table.label[index[differ[0]]]!r}, "
                f"not {tables[0].label[rows[0][differ[0]]]!r}: the stores come from different alignments"
            )
    return Alignment(rows, tuple(len(t) - len(common) for t in tables))


def hop_groups(store: FeatureStore, layers: Sequence[str]) -> list[list[str]]:
    """Layers grouped by frame hop, in layer order (one group for segment and utterance spans)."""
    if store.span != "frame":
        return [list(layers)]
    groups: dict[float, list[str]] = {}
    for layer in layers:
        hop = next((h for h in groups if abs(h - store.hop_seconds(layer)) <= HOP_TOLERANCE), None)
        groups.setdefault(store.hop_seconds(layer) if hop is None else hop, []).append(layer)
    return list(groups.values())


def layer_progress(layers: Sequence[str], description: str, progress: bool | None) -> Iterator[str]:
    """Iterate over ``layers`` with a progress bar (``None``: when stderr is a terminal)."""
    yield from tqdm(layers, desc=description, disable=not show_progress(progress), unit="layer")
