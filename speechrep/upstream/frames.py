"""Frame arithmetic: time segments to frame ranges, segment pooling, CNN pooling to 10 ms.

Conventions (``ARCHITECTURE.md``, layer-wise analysis reference §1):

- A segment ``[start, end]`` in seconds maps to the half-open frame range
  ``[floor(start / hop), ceil(end / hop))``, at least one frame long; the CNN's receptive-field
  offset (frame ``i`` of a 320-hop model covers samples ``[320 i, 320 i + 400)``) is ignored, as in
  the reference. A tiny epsilon (1e-6 frame) absorbs floating error, so ``0.06 / 0.02`` counts
  as 3 frames, not 2.9999999999999996.
- Phones may keep only their middle third ("offset"): ``floor((n + 1) / 3)`` frames are dropped
  from each side of an ``n``-frame range, keeping at least one frame.
- CNN layers faster than 10 ms are box-filtered to 10 ms so that each pooled frame spans the
  400 input samples (25 ms) of one mel analysis window, hopping 160 samples: for the wav2vec2
  geometry cnn.0 … cnn.5 get (kernel, stride) = (79, 32), (39, 16), (19, 8), (9, 4), (4, 2), (2, 1);
  cnn.6 (20 ms hop) is not pooled.

Frame counts against the mel baseline (``N`` input samples at 16 kHz): every pooled CNN layer has
``floor((N - 400) / 160) + 1`` frames (98 for one second), the 10 ms mel has ``1 + N // 160``
(101 for one second): 3 more when ``N mod 160 < 80``, else 2. The reference truncates the mel to
the pooled count and pairs frame ``j`` with frame ``j``, although pooled frame ``j`` is centred on
sample ``160 j + 200`` and mel frame ``j`` on sample ``160 j`` (a 12.5 ms offset it ignores). At
20 ms the same holds for ``mel.20ms`` (51 frames for one second) against the model's 49.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from speechrep.upstream.base import Upstream

Features = TypeVar("Features", Tensor, np.ndarray)

#: Tolerance, in frames, for boundaries that fall on a frame edge up to floating error.
FRAME_EPS = 1e-6

#: The mel analysis window and hop the CNN layers are pooled to (seconds).
MEL_WINDOW_SECONDS = 0.025
MEL_HOP_SECONDS = 0.010


def segment_to_frames(
    start: float, end: float, hop_seconds: float, num_frames: int, middle_third: bool = False
) -> tuple[int, int]:
    """The frames ``[first, stop)`` of a ``[start, end]`` segment (seconds) in a ``num_frames`` utterance.

    ``first = floor(start / hop)``, ``stop = ceil(end / hop)``; an empty range (zero-length or
    sub-frame segment) becomes one frame. With ``middle_third``, ``floor((n + 1) / 3)`` frames are
    trimmed from each side of the ``n``-frame range (3 frames keep 1, 4 keep 2, 6 keep 2, 7 keep 3;
    2 keep their second frame, as the reference does). The result is then clipped to the
    utterance: a segment that ends after the last frame keeps its frames inside (at least the last
    one). A segment starting in the last hop of the audio, after the last full frame (e.g. a phone
    at [0.98, 1.0] s of a 1 s input, whose 49 wav2vec2 frames start by 0.96 s), gets the last frame;
    one starting later than that, at or after ``(num_frames + 1) * hop``, cannot belong to this
    audio and raises ValueError naming the times.
    """
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"segment [{start}, {end}] s has a non-finite boundary")
    if end < start:
        raise ValueError(f"segment [{start}, {end}] s ends before it starts")
    if hop_seconds <= 0:
        raise ValueError(f"hop_seconds must be positive, got {hop_seconds}")
    if num_frames <= 0:
        raise ValueError(f"segment [{start}, {end}] s: the utterance has no frames ({num_frames})")
    first = math.floor(start / hop_seconds + FRAME_EPS)
    stop = math.ceil(end / hop_seconds - FRAME_EPS)
    if first < 0:
        raise ValueError(f"segment [{start}, {end}] s starts before 0")
    if first > num_frames:
        raise ValueError(
            f"segment [{start:.4f}, {end:.4f}] s lies after the last frame: {num_frames} frames of "
            f"{hop_seconds} s cover [0, {num_frames * hop_seconds:.4f}) s; "
            "check the alignment against the audio"
        )
    stop = max(stop, first + 1)
    if middle_third:
        trim = (stop - first + 1) // 3
        first, stop = first + trim, stop - trim
        stop = max(stop, first + 1)
    first = min(first, num_frames - 1)
    stop = min(stop, num_frames)
    return first, max(stop, first + 1)


def segments_to_frames(
    segments: Sequence[tuple[float, float]], hop_seconds: float, num_frames: int, middle_third: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`segment_to_frames` for many segments: int64 arrays ``first`` and ``stop``, shape ``(N,)``."""
    bounds = [
        segment_to_frames(float(s), float(e), hop_seconds, num_frames, middle_third) for s, e in segments
    ]
    if not bounds:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    array = np.asarray(bounds, dtype=np.int64)
    return array[:, 0], array[:, 1]


def pool_segments(
    features: Features,
    segments: Sequence[tuple[float, float]],
    hop_seconds: float,
    middle_third: bool = False,
) -> Features:
    """Mean of the kept frames of each segment: ``(T, D)`` features -> ``(N, D)``.

    Uses cumulative sums in float64 (one pass over the frames, however many segments), and
    returns the input's type (tensor on its device, or array) and floating dtype.
    """
    values, to_output = _as_tensor(features)
    if values.ndim != 2:
        raise ValueError(f"features must be (T, D), got shape {tuple(values.shape)}")
    first, stop = segments_to_frames(segments, hop_seconds, values.shape[0], middle_third)
    if len(first) == 0:
        return to_output(values.new_zeros(0, values.shape[1]))
    sums = torch.cumsum(values.to(torch.float64), dim=0)
    sums = torch.cat([sums.new_zeros(1, values.shape[1]), sums])
    first_t = torch.as_tensor(first, device=values.device)
    stop_t = torch.as_tensor(stop, device=values.device)
    means = (sums[stop_t] - sums[first_t]) / (stop_t - first_t).to(torch.float64)[:, None]
    return to_output(means.to(values.dtype))


def utterance_mean(features: Features) -> Features:
    """Mean over time of ``(T, D)`` features -> ``(D,)`` (accumulated in float64)."""
    values, to_output = _as_tensor(features)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(f"features must be (T, D) with T >= 1, got shape {tuple(values.shape)}")
    return to_output(values.to(torch.float64).mean(dim=0).to(values.dtype))


def cnn_pooling_to_10ms(upstream: Upstream, layer: str) -> tuple[int, int] | None:
    """(kernel, stride) of the box filter that brings ``layer`` to 25 ms windows every 10 ms.

    ``kernel = (window - rf) / hop + 1`` and ``stride = 10 ms / hop`` from the layer's receptive
    field ``rf`` and hop (samples), so a pooled frame covers exactly one mel window. ``None`` for
    layers whose hop is already longer than 10 ms (cnn.6 and transformer layers of wav2vec2-style
    models); a layer already at 25 ms / 10 ms gets (1, 1). ValueError if the geometry does not
    divide evenly.
    """
    window = round(MEL_WINDOW_SECONDS * upstream.sample_rate)
    target_hop = round(MEL_HOP_SECONDS * upstream.sample_rate)
    hop = upstream.hop_length(layer)
    field = upstream.receptive_field(layer)
    if hop > target_hop:
        return None
    if target_hop % hop or field > window or (window - field) % hop:
        raise ValueError(
            f"{upstream.name} {layer}: hop {hop} and receptive field {field} samples cannot be box-filtered "
            f"to exactly {window}-sample windows every {target_hop} samples"
        )
    return (window - field) // hop + 1, target_hop // hop


def pooled_num_frames(num_frames: int, kernel: int, stride: int) -> int:
    """Frames left after :func:`pool_to_10ms`: ``floor((T - kernel) / stride) + 1`` (0 if ``T < kernel``)."""
    return 0 if num_frames < kernel else (num_frames - kernel) // stride + 1


def pool_to_10ms(features: Features, kernel: int, stride: int) -> Features:
    """Box-filter ``(T, D)`` features over time: the mean of ``kernel`` frames every ``stride``."""
    values, to_output = _as_tensor(features)
    if values.ndim != 2:
        raise ValueError(f"features must be (T, D), got shape {tuple(values.shape)}")
    if kernel < 1 or stride < 1:
        raise ValueError(f"kernel and stride must be >= 1, got ({kernel}, {stride})")
    if values.shape[0] < kernel:
        return to_output(values.new_zeros(0, values.shape[1]))
    compute = torch.float64 if values.dtype == torch.float64 else torch.float32
    pooled = F.avg_pool1d(values.T[None].to(compute), kernel_size=kernel, stride=stride)[0].T
    return to_output(pooled.to(values.dtype).contiguous())


def _as_tensor(features: Tensor | np.ndarray):
    """The features as a floating tensor, and a function that converts a result back to the input's type."""
    if isinstance(features, Tensor):
        values = features if features.is_floating_point() else features.to(torch.float32)
        return values, lambda result: result
    values = torch.from_numpy(np.asarray(features))
    if not values.is_floating_point():
        values = values.to(torch.float32)
    return values, lambda result: result.cpu().numpy()
