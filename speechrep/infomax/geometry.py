"""Frame arithmetic of a padded conv stack: lengths, hops, receptive fields and frame centres.

A conv layer with kernel ``k``, stride ``s`` and padding ``p`` maps ``L`` frames to
``floor((L + 2p - k) / s) + 1``. Through layers ``1..n`` with jumps ``J_l = s_1 ... s_l``
(``J_0 = 1``), output frame ``i`` reads the input samples

    [i J_n - P, i J_n - P + R),    P = Σ_l p_l J_{l-1},    R = 1 + Σ_l (k_l - 1) J_{l-1},

(positions below 0 or past the end are zero padding). For CPC's stack (kernels 10, 8, 4, 4, 4,
strides 5, 4, 2, 2, 2, paddings 2, 2, 2, 2, 1) after all five layers: J = 160, P = 212, R = 465,
so frame ``i`` is centred on sample ``160 i + 20`` and lies in the ``i``-th 10 ms label frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def conv_lengths(
    num_samples: int, kernels: Sequence[int], strides: Sequence[int], paddings: Sequence[int]
) -> list[int]:
    """Lengths after each layer of a padded conv stack (``[]`` layers give ``[]``); 0 once too short."""
    lengths, length = [], int(num_samples)
    for kernel, stride, padding in zip(kernels, strides, paddings, strict=True):
        padded = length + 2 * padding
        length = 0 if padded < kernel else (padded - kernel) // stride + 1
        lengths.append(length)
    return lengths


@dataclass(frozen=True)
class FrameGeometry:
    """Where the frames of one layer sit in the input.

    Attributes:
        hop: input samples between consecutive frames (``J_n``).
        receptive_field: input samples one frame reads (``R``).
        offset: first input sample of frame 0 (``-P``; negative: it starts in the padding).
    """

    hop: int
    receptive_field: int
    offset: int

    def center(self, frame: int) -> float:
        """The input sample at the centre of ``frame``'s receptive field."""
        return frame * self.hop + self.offset + (self.receptive_field - 1) / 2


def frame_geometry(kernels: Sequence[int], strides: Sequence[int], paddings: Sequence[int]) -> FrameGeometry:
    """:class:`FrameGeometry` of the output of a padded conv stack (see the module docstring)."""
    jump, field, pad = 1, 1, 0
    for kernel, stride, padding in zip(kernels, strides, paddings, strict=True):
        field += (kernel - 1) * jump
        pad += padding * jump
        jump *= stride
    return FrameGeometry(hop=jump, receptive_field=field, offset=-pad)
