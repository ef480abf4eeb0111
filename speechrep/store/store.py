"""Reading a finished feature store: memory-mapped float16 rows plus their index.

Rows of a layer are one contiguous ``(rows, dim)`` array; ``offsets(layer)[i] : offsets(layer)[i + 1]``
are the rows of the i-th utterance. For segment spans (phone, word) every layer shares one row
order, described by :attr:`FeatureStore.segments`. Nothing is read into memory until asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from speechrep.store.layout import layer_file, offsets_file


class StoreError(ValueError):
    """A feature store is missing, incomplete or asked for something it does not hold."""


@dataclass(frozen=True)
class SegmentTable:
    """One entry per stored row of a segment span, in row order."""

    utterance: np.ndarray  # (rows,) utterance id per row
    index: np.ndarray  # (rows,) position of the segment in the utterance's phones/words
    label: np.ndarray  # (rows,) segment label
    start: np.ndarray  # (rows,) seconds
    end: np.ndarray  # (rows,) seconds

    def __len__(self) -> int:
        return len(self.label)

    @classmethod
    def from_json(cls, data: dict[str, list]) -> SegmentTable:
        return cls(
            utterance=np.asarray(data["utterance"], dtype=object),
            index=np.asarray(data["index"], dtype=np.int64),
            label=np.asarray(data["label"], dtype=object),
            start=np.asarray(data["start"], dtype=np.float64),
            end=np.asarray(data["end"], dtype=np.float64),
        )


class FeatureStore:
    """A complete store written by :func:`speechrep.store.extract_features`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / "COMPLETE").is_file():
            raise StoreError(
                f"{self.path} is not a complete feature store (no COMPLETE marker): "
                "run the extraction again; it resumes where it stopped"
            )
        self.meta: dict[str, Any] = json.loads((self.path / "meta.json").read_text())
        self.index: dict[str, Any] = json.loads((self.path / "index.json").read_text())

    def __repr__(self) -> str:
        return (
            f"FeatureStore({str(self.path)!r}, upstream={self.upstream_name!r}, span={self.span!r}, "
            f"layers={len(self.layers)}, utterances={len(self.utterance_ids)})"
        )

    # -- what is stored ----------------------------------------------------------------------------
    @property
    def upstream_name(self) -> str:
        return self.meta["upstream"]["name"]

    @property
    def span(self) -> str:
        return self.meta["settings"]["span"]

    @property
    def layers(self) -> list[str]:
        return list(self.meta["settings"]["layers"])

    @property
    def utterance_ids(self) -> list[str]:
        return list(self.index["utterances"])

    @property
    def skipped(self) -> list[dict[str, str]]:
        """Utterances left out, each ``{"id", "reason"}``."""
        return list(self.index["skipped"])

    def dim(self, layer: str) -> int:
        return int(self.index["layers"][self._check(layer)]["dim"])

    def hop_seconds(self, layer: str) -> float:
        """Seconds between consecutive frames of ``layer`` (frame span; the source frames otherwise)."""
        return float(self.index["layers"][self._check(layer)]["hop_seconds"])

    @cached_property
    def segments(self) -> SegmentTable:
        if self.span not in ("phone", "word"):
            raise StoreError(f"{self.path}: span {self.span!r} has no segment table")
        return SegmentTable.from_json(self.index["segments"])

    # -- the numbers -------------------------------------------------------------------------------
    def features(self, layer: str) -> np.ndarray:
        """All rows of ``layer`` as a read-only float16 memory map, shape ``(rows, dim)``."""
        return np.load(layer_file(self.path / "layers", self._check(layer)), mmap_mode="r")

    def offsets(self, layer: str) -> np.ndarray:
        return np.load(offsets_file(self.path / "layers", self._check(layer)))

    def get(self, layer: str, utterance_id: str) -> np.ndarray:
        """The rows of one utterance as float32."""
        try:
            position = self._positions[utterance_id]
        except KeyError:
            raise StoreError(f"{self.path}: no utterance {utterance_id!r} in the store") from None
        offsets = self.offsets(layer)
        return np.asarray(self.features(layer)[offsets[position] : offsets[position + 1]], dtype=np.float32)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {utt: i for i, utt in enumerate(self.utterance_ids)}

    def _check(self, layer: str) -> str:
        if layer not in self.index["layers"]:
            raise StoreError(f"{self.path}: no layer {layer!r}; stored layers: {', '.join(self.layers)}")
        return layer
