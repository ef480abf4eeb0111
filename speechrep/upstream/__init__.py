"""Upstream models and layer-wise extraction: named CNN/transformer layers, frames, pooling.

Entry points: :func:`load_upstream` builds an :class:`Upstream` (HF speech encoder, random-init
baseline, or the log-mel baseline); :meth:`Upstream.forward` / :meth:`Upstream.extract` return
named layers; :mod:`speechrep.upstream.frames` maps time segments to frames and pools them.
"""

from speechrep.upstream.base import Upstream, UpstreamOutput, check_layers, describe_layer_names
from speechrep.upstream.frames import (
    cnn_pooling_to_10ms,
    pool_segments,
    pool_to_10ms,
    pooled_num_frames,
    segment_to_frames,
    segments_to_frames,
    utterance_mean,
)
from speechrep.upstream.hf import (
    FINAL_LAYER,
    MODEL_CLASSES,
    HFSpeechUpstream,
    default_normalize,
    normalize_waveform,
    pads_exactly,
)
from speechrep.upstream.loading import FAMILY_CONFIGS, load_upstream
from speechrep.upstream.mel import MEL_20MS_LAYER, MEL_LAYER, MelSettings, MelUpstream, log_mel

__all__ = [
    "FAMILY_CONFIGS",
    "FINAL_LAYER",
    "MEL_20MS_LAYER",
    "MEL_LAYER",
    "MODEL_CLASSES",
    "HFSpeechUpstream",
    "MelSettings",
    "MelUpstream",
    "Upstream",
    "UpstreamOutput",
    "check_layers",
    "cnn_pooling_to_10ms",
    "default_normalize",
    "describe_layer_names",
    "load_upstream",
    "log_mel",
    "normalize_waveform",
    "pads_exactly",
    "pool_segments",
    "pool_to_10ms",
    "pooled_num_frames",
    "segment_to_frames",
    "segments_to_frames",
    "utterance_mean",
]
