"""How good a decomposition is: reconstruction error and orthogonality of its components.

For a signal ``x`` with components ``c_1 … c_C`` (padded ones excluded) and residue ``r``:

- **NRMSE** (the DecVAE reference's measure): ``sqrt(mean((x − Σ_k c_k)²)) / (max x − min x)``,
  once without and once with the residue added to the sum (exact methods give 0 with it).
- **Index of orthogonality** (Huang et al., 1998, eq. 6.5):
  ``IO = Σ_t Σ_{j≠k} c_j(t) c_k(t) / Σ_t x(t)²`` — 0 for orthogonal components, and the fraction
  of the signal's energy that is counted twice (or cancelled) when the components overlap.
- **Mean |correlation|** between pairs of components (the reference's time-domain correlogram).

Each is computed per signal and averaged over signals; a signal with fewer than two components
has no pairs and contributes only to the reconstruction errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class QualityReport:
    """Averages over signals (see the module docstring); ``padded_fraction`` of all slots."""

    signals: int
    nrmse: float
    nrmse_with_residue: float
    orthogonality_index: float
    mean_abs_correlation: float
    padded_fraction: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


class QualityAccumulator:
    """Sums per-signal measures over batches, so a corpus is summarised in one streaming pass."""

    def __init__(self) -> None:
        self._sums = np.zeros(5)
        self._pair_signals = 0
        self._signals = 0

    def update(self, x: np.ndarray, components: np.ndarray, padded: np.ndarray, residue: np.ndarray) -> None:
        """Add signals ``x`` ``(B, T)`` with components ``(B, C, T)``, mask ``(B, C)``, residue ``(B, T)``."""
        x = np.asarray(x, np.float64)
        comps = np.where(np.asarray(padded)[..., None], 0.0, np.asarray(components, np.float64))
        residue = np.asarray(residue, np.float64)
        span = np.ptp(x, axis=-1)
        span = np.where(span > 0, span, 1.0)
        total = comps.sum(1)
        nrmse = np.sqrt(np.mean((x - total) ** 2, -1)) / span
        nrmse_residue = np.sqrt(np.mean((x - total - residue) ** 2, -1)) / span
        energy = np.einsum("bt,bt->b", x, x)
        gram = np.einsum("bjt,bkt->bjk", comps, comps)
        cross = gram.sum((1, 2)) - np.trace(gram, axis1=1, axis2=2)
        io = np.divide(cross, energy, out=np.zeros_like(cross), where=energy > 0)
        present = ~np.asarray(padded)
        n_present = present.sum(1)
        centred = comps - comps.mean(-1, keepdims=True)
        norms = np.sqrt(np.einsum("bkt,bkt->bk", centred, centred))
        outer = norms[:, :, None] * norms[:, None, :]
        covariance = np.einsum("bjt,bkt->bjk", centred, centred)
        corr = np.abs(np.divide(covariance, outer, out=np.zeros_like(outer), where=outer > 0))
        pairs = present[:, :, None] & present[:, None, :] & ~np.eye(present.shape[1], dtype=bool)
        has_pairs = n_present >= 2
        mean_corr = np.where(has_pairs, (corr * pairs).sum((1, 2)) / np.maximum(pairs.sum((1, 2)), 1), 0.0)
        self._sums += [
            nrmse.sum(),
            nrmse_residue.sum(),
            np.where(has_pairs, io, 0.0).sum(),
            mean_corr.sum(),
            np.asarray(padded).mean(1).sum(),
        ]
        self._pair_signals += int(has_pairs.sum())
        self._signals += len(x)

    def report(self) -> QualityReport:
        n = max(self._signals, 1)
        return QualityReport(
            signals=self._signals,
            nrmse=float(self._sums[0] / n),
            nrmse_with_residue=float(self._sums[1] / n),
            orthogonality_index=float(self._sums[2] / max(self._pair_signals, 1)),
            mean_abs_correlation=float(self._sums[3] / max(self._pair_signals, 1)),
            padded_fraction=float(self._sums[4] / n),
        )


def quality(x: np.ndarray, components: np.ndarray, padded: np.ndarray, residue: np.ndarray) -> QualityReport:
    """The :class:`QualityReport` of one batch (shapes as in :meth:`QualityAccumulator.update`)."""
    accumulator = QualityAccumulator()
    accumulator.update(x, components, padded, residue)
    return accumulator.report()
