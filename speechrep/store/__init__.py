"""Feature store: layer-wise features as float16 memory-mapped arrays, keyed by content."""

from speechrep.store.extract import ExtractionSettings, ProcessGroup, extract_features, plan_shards
from speechrep.store.store import FeatureStore, SegmentTable, StoreError

__all__ = [
    "ExtractionSettings",
    "FeatureStore",
    "ProcessGroup",
    "SegmentTable",
    "StoreError",
    "extract_features",
    "plan_shards",
]
