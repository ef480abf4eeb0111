"""What every decomposition model shares: exactly ``NoC`` components per signal, low to high frequency.

DecVAE (Ziogas et al., 2026, §"Decomposition model") splits each frame (or whole utterance) ``x``
into ``C`` oscillatory components (OCs) whose sum approximates ``x``. A method produces a variable
number ``M`` of raw candidates; this module turns them into exactly ``C = n_components`` slots:

1. **Drop** candidates whose power ``mean(c²)`` is below ``min_power_ratio · mean(x²)`` (the
   reference drops OCs whose Welch maximum is under an absolute tolerance; a ratio does not depend
   on the signal's scale). Dropped candidates are added to the residue, so nothing is lost silently.
2. **Order** the rest by centre frequency, the power-weighted mean frequency
   ``f_c = Σ_f f |C(f)|² / Σ_f |C(f)|²`` of the candidate's spectrum.
3. **Group** when ``M > C`` (contiguous runs in frequency order are summed):
   ``equally_distribute`` makes ``C`` runs whose sizes differ by at most one (the lower runs take the
   extra candidates); ``low_freqs_first`` keeps the ``C − 1`` lowest candidates apart and sums the
   rest into the top slot; ``high_freqs_first`` keeps the ``C − 1`` highest apart and sums the rest
   into the bottom slot.
4. **Pad** when ``M < C`` with all-zero components flagged in :attr:`DecompositionOutput.padded`:
   ``append`` fills the first ``M`` slots; ``frequency_groups`` puts a candidate with centre
   frequency ``f`` in slot ``floor(f / group_width_hz)`` (the reference's 750-Hz groups), moved up or
   down only as far as needed to keep the slots ascending and every candidate placed.

Grouping, padding and reconstruction are one matrix product ``components = Σ_m A[m, c] raw[m]``
with a 0/1 assignment ``A`` per signal, so batches run on the GPU as one operation.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

GROUPINGS = ("equally_distribute", "low_freqs_first", "high_freqs_first")
PADDINGS = ("frequency_groups", "append")


@dataclass
class DecompositionOutput:
    """Components of a batch of signals.

    Attributes:
        components: ``(B, C, T)`` components, ascending centre frequency; padded ones are zero.
        padded: ``(B, C)`` bool, True where a slot holds no component (padding).
        centre_hz: ``(B, C)`` centre frequency of each component in Hz (NaN where padded).
        residue: ``(B, T)`` what the method set aside: EMD's trend, EWT's band below the first
            spectral peak, and any candidate dropped for low power. ``x ≈ components.sum(1) + residue``
            (exact for EMD and EWT).
    """

    components: Tensor
    padded: Tensor
    centre_hz: Tensor
    residue: Tensor

    def to(self, device: str | torch.device) -> DecompositionOutput:
        return DecompositionOutput(
            self.components.to(device),
            self.padded.to(device),
            self.centre_hz.to(device),
            self.residue.to(device),
        )


@dataclass
class RawComponents:
    """A method's candidates before grouping: ``(B, M, T)`` with a ``(B, M)`` validity mask."""

    components: Tensor
    valid: Tensor
    residue: Tensor | None = None


class Decomposition(abc.ABC):
    """A decomposition model: ``(B, T)`` signals → :class:`DecompositionOutput` with ``n_components``.

    Subclasses implement :meth:`_candidates` (the method itself) and :meth:`_settings` (every
    parameter that changes the numbers, for cache keys); everything else is shared.

    Args:
        n_components: ``NoC``, the number of components per signal.
        sample_rate: Hz, for centre frequencies and frequency-based settings.
        grouping: how surplus candidates are merged (see the module docstring).
        padding: where missing components go (see the module docstring).
        group_width_hz: width of the frequency groups of ``padding="frequency_groups"``.
        min_power_ratio: candidates with less than this fraction of the signal's power are dropped.
        device: where torch work runs (``None``: CUDA when available, else CPU).
        dtype: float dtype of the computation and of the output.
    """

    name: str = "decomposition"

    def __init__(
        self,
        n_components: int,
        sample_rate: int = 16_000,
        grouping: str = "equally_distribute",
        padding: str = "frequency_groups",
        group_width_hz: float = 750.0,
        min_power_ratio: float = 1e-4,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str = torch.float64,
    ) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be at least 1, got {n_components}")
        if grouping not in GROUPINGS:
            raise ValueError(f"grouping must be one of {GROUPINGS}, got {grouping!r}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        if group_width_hz <= 0 or min_power_ratio < 0:
            raise ValueError("group_width_hz must be positive and min_power_ratio non-negative")
        self.n_components = int(n_components)
        self.sample_rate = int(sample_rate)
        self.grouping = grouping
        self.padding = padding
        self.group_width_hz = float(group_width_hz)
        self.min_power_ratio = float(min_power_ratio)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if not self.dtype.is_floating_point:
            raise ValueError(f"dtype must be a float dtype, got {self.dtype}")

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"{type(self).__name__}(n_components={self.n_components}, {settings})"

    @abc.abstractmethod
    def _candidates(self, x: Tensor) -> RawComponents:
        """The method's raw components of ``x`` ``(B, T)`` (on :attr:`device`, :attr:`dtype`)."""

    @abc.abstractmethod
    def _settings(self) -> dict[str, Any]:
        """The method's own parameters (JSON-able), for :meth:`fingerprint` and ``repr``."""

    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines the output, for cache keys."""
        return {
            "method": self.name,
            "n_components": self.n_components,
            "sample_rate": self.sample_rate,
            "grouping": self.grouping,
            "padding": self.padding,
            "group_width_hz": self.group_width_hz,
            "min_power_ratio": self.min_power_ratio,
            "dtype": str(self.dtype).removeprefix("torch."),
            **self._settings(),
        }

    def __call__(self, x: Tensor | np.ndarray) -> DecompositionOutput:
        """Decompose ``x``: ``(B, T)`` signals (a 1-D signal is a batch of one)."""
        x = torch.as_tensor(x)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[-1] < 2:
            raise ValueError(
                f"expected (batch, samples) signals with at least 2 samples, got {tuple(x.shape)}"
            )
        if not bool(torch.isfinite(x).all()):
            raise ValueError("the signals contain NaN or infinite samples")
        x = x.to(self.device, self.dtype)
        raw = self._candidates(x)
        return self._to_slots(x, raw)

    # -- shared post-processing ---------------------------------------------------------------------
    def _to_slots(self, x: Tensor, raw: RawComponents) -> DecompositionOutput:
        comps, valid = raw.components, raw.valid.clone()
        residue = raw.residue if raw.residue is not None else torch.zeros_like(x)
        power = comps.square().mean(-1)
        valid &= power >= self.min_power_ratio * x.square().mean(-1, keepdim=True)
        valid &= power > 0
        residue = residue + (comps * (~valid & raw.valid)[..., None]).sum(1)
        assignment = self._assignment(centre_frequency(comps, self.sample_rate), valid)
        components = torch.einsum("bmt,bmc->bct", comps, assignment.to(comps.dtype))
        padded = assignment.sum(1) == 0
        centre = centre_frequency(components, self.sample_rate).masked_fill(padded, math.nan)
        return DecompositionOutput(components, padded, centre, residue)

    def _assignment(self, centre: Tensor, valid: Tensor) -> Tensor:
        """``(B, M, C)`` 0/1 matrix: candidate ``m`` of signal ``b`` goes into slot ``c``."""
        centre_np = centre.detach().cpu().numpy()
        valid_np = valid.detach().cpu().numpy()
        batch, candidates = valid_np.shape
        out = np.zeros((batch, candidates, self.n_components), dtype=np.float32)
        for b in range(batch):
            kept = np.flatnonzero(valid_np[b])
            kept = kept[np.argsort(centre_np[b, kept], kind="stable")]
            for m, slot in zip(kept, self._slots(centre_np[b, kept])):
                out[b, m, slot] = 1.0
        return torch.from_numpy(out).to(centre.device)

    def _slots(self, centre_sorted: np.ndarray) -> list[int]:
        """Slot of each candidate, given the candidates' centre frequencies in ascending order."""
        n, slots = len(centre_sorted), self.n_components
        if n > slots:
            if self.grouping == "equally_distribute":
                sizes = [n // slots + (1 if j < n % slots else 0) for j in range(slots)]
                return [j for j, size in enumerate(sizes) for _ in range(size)]
            if self.grouping == "low_freqs_first":
                return [min(i, slots - 1) for i in range(n)]
            return [max(0, i - (n - slots)) for i in range(n)]  # high_freqs_first
        if self.padding == "append":
            return list(range(n))
        placed, previous = [], -1
        for i, f in enumerate(centre_sorted):
            group = int(f // self.group_width_hz)
            slot = min(max(group, previous + 1), slots - (n - i))
            placed.append(slot)
            previous = slot
        return placed


def centre_frequency(signals: Tensor, sample_rate: int) -> Tensor:
    """Power-weighted mean frequency (Hz) of each signal along the last axis (NaN when silent)."""
    power = torch.fft.rfft(signals, dim=-1).abs().square()
    freqs = torch.fft.rfftfreq(signals.shape[-1], d=1.0 / sample_rate).to(power)
    total = power.sum(-1)
    return torch.where(total > 0, (power * freqs).sum(-1) / total.clamp_min(1e-300), math.nan)


def frame_signal(x: Tensor, frame_length: int, hop_length: int) -> Tensor:
    """``(..., N)`` → ``(..., F, frame_length)`` frames starting every ``hop_length`` samples.

    ``F = 1 + (N − frame_length) // hop_length`` (the last partial frame is dropped, as a strided
    convolution does: 16000 samples give 49 frames of 400 with hop 320); 0 frames when ``N`` is
    shorter than one frame.
    """
    if x.shape[-1] < frame_length:
        return x.new_zeros((*x.shape[:-1], 0, frame_length))
    return x.unfold(-1, frame_length, hop_length)
