"""What an observation of SimVowels is: a whole segment, or one analysis frame cut from it."""

from __future__ import annotations

import numpy as np

#: ``"segment"``: the whole vowel segment; ``"frame"``: ``frame_length`` samples from inside it.
OBSERVATIONS = ("segment", "frame")

#: The 25 ms analysis frame of wav2vec2-style encoders at 16 kHz (receptive field of the CNN).
DEFAULT_FRAME_LENGTH = 400


def check_observation(observation: str, frame_length: int, segment_samples: int) -> None:
    """Fail early on an unknown observation kind or a frame longer than a segment."""
    if observation not in OBSERVATIONS:
        raise ValueError(f"unknown observation {observation!r}; choose from {OBSERVATIONS}")
    if observation == "frame" and not 1 <= frame_length <= segment_samples:
        raise ValueError(f"frame_length must lie in 1..{segment_samples} (one segment), got {frame_length}")


def cut_frame(segment: np.ndarray, frame_length: int, offset: int | None = None) -> np.ndarray:
    """``frame_length`` samples of ``segment`` from ``offset`` (``None``: the centred frame)."""
    if offset is None:
        offset = (len(segment) - frame_length) // 2
    if not 0 <= offset <= len(segment) - frame_length:
        raise ValueError(f"a {frame_length}-sample frame at {offset} does not fit {len(segment)} samples")
    return segment[offset : offset + frame_length]
