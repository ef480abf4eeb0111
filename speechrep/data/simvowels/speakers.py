"""SimVowels speakers: vocal-tract factors on a grid of cells, dealt to disjoint splits.

The vocal-tract range ``[vt_min, vt_max]`` (the reference's 0.70-1.29) is cut into ``num_speakers``
equal cells. Speaker ``i`` owns cell ``i``:

- discrete (``continuous=False``, the reference's design): speaker ``i`` always has the cell centre;
- continuous: every utterance of speaker ``i`` draws its own ``vt`` uniformly inside cell ``i``, so
  the factor is continuous and "speaker ``i``" is a band of tract lengths (its discretisation).

Cells are dealt to the splits in order of ``vt`` by largest deficit (the split furthest below its share
so far takes the next cell), which interleaves the splits over the whole range, as the reference's
hand-made ranges do, and makes them disjoint by construction: no ``vt`` value (discrete) and no cell
(continuous) belongs to two splits. The reference has 20 speakers dealt 10/5/5; so does the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpeakerLayout:
    """The speakers of a SimVowels corpus and their splits.

    Attributes:
        num_speakers: number of cells (speakers) over ``vt_range``.
        vt_range: ``(vt_min, vt_max)`` vocal-tract factors (formants are ``F_k / vt``).
        splits: ``{split: share of the speakers}``, shares summing to 1; order is kept.
        continuous: draw each utterance's ``vt`` inside its speaker's cell instead of its centre.
    """

    num_speakers: int = 20
    vt_range: tuple[float, float] = (0.70, 1.29)
    splits: tuple[tuple[str, float], ...] = (("train", 0.5), ("dev", 0.25), ("test", 0.25))
    continuous: bool = False

    def __post_init__(self) -> None:
        splits = self.splits.items() if isinstance(self.splits, Mapping) else self.splits
        object.__setattr__(self, "splits", tuple((str(name), float(share)) for name, share in splits))
        object.__setattr__(self, "vt_range", (float(self.vt_range[0]), float(self.vt_range[1])))
        shares = [share for _, share in self.splits]
        if not self.splits or min(shares) <= 0 or abs(sum(shares) - 1) > 1e-6:
            raise ValueError(f"split shares must be positive and sum to 1, got {dict(self.splits)}")
        if not 0 < self.vt_range[0] < self.vt_range[1]:
            raise ValueError(f"vt_range must satisfy 0 < min < max, got {self.vt_range}")
        if self.num_speakers < len(self.splits):
            raise ValueError(f"{self.num_speakers} speakers cannot fill the {len(self.splits)} splits")

    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.splits)

    def cell_edges(self) -> np.ndarray:
        """``(num_speakers, 2)`` lower and upper ``vt`` of every speaker's cell."""
        edges = np.linspace(*self.vt_range, self.num_speakers + 1)
        return np.stack([edges[:-1], edges[1:]], axis=1)

    def centres(self) -> np.ndarray:
        """The ``vt`` of every discrete speaker (its cell centre)."""
        return self.cell_edges().mean(axis=1)

    def speakers_of(self, split: str) -> tuple[int, ...]:
        """The speaker indices of ``split`` in increasing ``vt``."""
        if split not in self.split_names:
            raise ValueError(f"unknown split {split!r}; this layout has {list(self.split_names)}")
        return tuple(i for i, name in enumerate(self._assignment()) if name == split)

    def _assignment(self) -> list[str]:
        counts = dict.fromkeys(self.split_names, 0)
        assigned = []
        for i in range(self.num_speakers):
            # largest deficit against the share of the first i + 1 speakers; ties go to the earlier split
            name = max(self.split_names, key=lambda s: dict(self.splits)[s] * (i + 1) - counts[s])
            counts[name] += 1
            assigned.append(name)
        empty = [name for name, count in counts.items() if count == 0]
        if empty:
            raise ValueError(f"splits {empty} get no speaker; raise num_speakers or their shares")
        return assigned

    def vt_of(self, speaker: int, rng: np.random.Generator) -> float:
        """The ``vt`` of one utterance of ``speaker``: its centre, or a uniform draw in its cell."""
        if not 0 <= speaker < self.num_speakers:
            raise ValueError(f"speaker {speaker} is outside 0..{self.num_speakers - 1}")
        low, high = self.cell_edges()[speaker]
        return float(rng.uniform(low, high)) if self.continuous else float((low + high) / 2)


def speaker_name(index: int) -> str:
    """``spk00``, ``spk01``, ... in order of increasing ``vt``."""
    return f"spk{index:02d}"
