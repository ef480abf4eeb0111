"""Linear centred kernel alignment (CKA), biased and debiased, streamed in feature space.

CKA (Kornblith et al. 2019, "Similarity of neural network representations revisited") compares two
views ``X`` (n, p) and ``Y`` (n, q) of the same n rows (frames, segments) through the Hilbert-Schmidt
independence criterion (HSIC, Gretton et al. 2005) of their linear kernels ``K = X Xᵀ``, ``L = Y Yᵀ``:

    CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L))

**Biased estimator.** With the centring matrix ``H = I - 11ᵀ/n``,
``HSIC_0(K, L) = tr(K H L H) / (n - 1)²``. For linear kernels ``tr(KHLH) = ‖X̃ᵀỸ‖²_F`` with column-
centred views, and ``X̃ᵀỸ = XᵀY - s_x s_yᵀ / n`` where ``s_x = Xᵀ1``, ``s_y = Yᵀ1`` are column sums:

    CKA_0 = ‖XᵀY - s_x s_yᵀ/n‖²_F / (‖XᵀX - s_x s_xᵀ/n‖_F · ‖YᵀY - s_y s_yᵀ/n‖_F)

It is 1 for identical views but inflated for *independent* ones when n is not ≫ p, q (about 0.28 for
two independent 768-dimensional Gaussian views of 2,000 rows): do not read it as similarity.

**Unbiased estimator** (Song et al. 2012, "Feature selection via dependence maximization", Eq. 5;
used for debiased CKA by Nguyen, Raghu & Kornblith 2021). With ``K̃ = K - diag(K)``, ``L̃ = L - diag(L)``:

    HSIC_1(K, L) = [ tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1) / ((n-1)(n-2)) - 2/(n-2) · 1ᵀK̃L̃1 ] / (n(n-3))

*Feature-space form* (no n×n matrix). Write ``a_i = ‖x_i‖²`` and ``b_i = ‖y_i‖²`` (the diagonals of
K and L) and ``C = XᵀY`` (p×q). Then, term by term:

    tr(K̃L̃)   = tr(KL) - Σ_i a_i b_i              = ‖C‖²_F - aᵀb        (tr(X XᵀY Yᵀ) = ‖XᵀY‖²_F)
    1ᵀK̃1     = 1ᵀX Xᵀ1 - Σ_i a_i                 = ‖s_x‖² - 1ᵀa
    1ᵀK̃L̃1    = (K̃1)ᵀ(L̃1) = (X s_x - a)ᵀ(Y s_y - b)
              = s_xᵀ C s_y - s_xᵀ(Xᵀb) - (Yᵀa)ᵀ s_y + aᵀb

Every ingredient is a sum over rows: the cross-products ``C = Σ_i x_i y_iᵀ``, ``Xᵀb = Σ_i b_i x_i``,
``Yᵀa = Σ_i a_i y_i`` and ``aᵀb``, and per view the column sums ``s``, ``1ᵀa``, and (for the self terms
``HSIC_1(K, K)``) the Gram matrix ``XᵀX``, ``Xᵀa`` and ``aᵀa``. They are accumulated over row chunks
in float64, so float16 memory maps of 1e5 × 768 rows are handled in O(p² + pq) memory, where the n×n
kernels would need 80 GB. Debiased CKA is ``HSIC_1(K, L) / sqrt(HSIC_1(K, K) HSIC_1(L, L))``; it is 1 for
identical views and close to 0 (either sign) for independent ones.

*Numerical conditioning.* Both estimators are unchanged when a constant vector is added to every row
of a view (``HSIC_1`` is a U-statistic of ``‖Cov(x, y)‖²_F``). Each view is therefore shifted by the
mean of the first chunk it sees before any product is accumulated: large common offsets (the outlier
dimensions of wav2vec2-style layers) then do not cancel catastrophically in the sums above.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

ArrayLike = np.ndarray | Tensor

#: Rows per chunk when streaming: 4096 × 768 float64 values are 25 MB per view.
DEFAULT_CHUNK_ROWS = 4096


def _as_float64(chunk: ArrayLike, device: torch.device) -> Tensor:
    """A float64 (rows, dim) tensor on ``device`` (a float16 memory-map slice is read here)."""
    if isinstance(chunk, Tensor):
        values = chunk.detach().to(device=device, dtype=torch.float64)
    else:
        values = torch.from_numpy(np.asarray(chunk, dtype=np.float64)).to(device)
    if values.ndim != 2:
        raise ValueError(f"a view must be (rows, dim), got shape {tuple(values.shape)}")
    return values


def _row_chunks(array: ArrayLike, chunk_rows: int) -> Iterator[ArrayLike]:
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    for start in range(0, len(array), chunk_rows):
        yield array[start : start + chunk_rows]


@dataclass
class _CrossMoments:
    """Sums over rows that couple two views: ``C = XᵀY``, ``Xᵀb``, ``Yᵀa``, ``aᵀb``."""

    product: Tensor  # (p, q)
    x_weighted_by_b: Tensor  # (p,)
    y_weighted_by_a: Tensor  # (q,)
    norms_dot: Tensor  # ()


class LayerStatistics:
    """Per-view sums for CKA, accumulated chunk by chunk (computed once per layer).

    Holds ``n``, the shift applied to the rows, column sums ``s = Xᵀ1``, the Gram matrix ``XᵀX``,
    ``1ᵀa``, ``aᵀa`` and ``Xᵀa`` for row norms ``a_i = ‖x_i‖²`` of the shifted rows.
    """

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.num_rows = 0
        self.shift: Tensor | None = None
        self._dim: int | None = None

    def __repr__(self) -> str:
        return f"LayerStatistics(rows={self.num_rows}, dim={self._dim}, device={str(self.device)!r})"

    @property
    def dim(self) -> int:
        if self._dim is None:
            raise ValueError("LayerStatistics has seen no rows yet")
        return self._dim

    def prepare(self, chunk: ArrayLike) -> tuple[Tensor, Tensor]:
        """The chunk as shifted float64 rows and their squared norms (fixes the shift on first use)."""
        x = _as_float64(chunk, self.device)
        if self.shift is None:
            if len(x) == 0:
                raise ValueError("the first chunk of a view is empty")
            self._dim = x.shape[1]
            self.shift = x.mean(dim=0)
            p = self._dim
            self.col_sum = x.new_zeros(p)
            self.gram = x.new_zeros(p, p)
            self.weighted = x.new_zeros(p)
            self.norm_sum = x.new_zeros(())
            self.norm_sq_sum = x.new_zeros(())
        elif x.shape[1] != self._dim:
            raise ValueError(f"chunk has {x.shape[1]} columns, the view has {self._dim}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("a view holds NaN or infinite values (float16 overflow in the store?)")
        x = x - self.shift
        return x, (x * x).sum(dim=1)

    def accumulate(self, x: Tensor, norms: Tensor) -> None:
        """Add rows returned by :meth:`prepare` to the sums."""
        self.num_rows += len(x)
        self.col_sum += x.sum(dim=0)
        self.gram += x.T @ x
        self.weighted += x.T @ norms
        self.norm_sum += norms.sum()
        self.norm_sq_sum += norms @ norms

    def update(self, chunk: ArrayLike) -> LayerStatistics:
        self.accumulate(*self.prepare(chunk))
        return self

    @classmethod
    def from_array(
        cls,
        array: ArrayLike,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        device: str | torch.device | None = None,
    ) -> LayerStatistics:
        stats = cls(device)
        for chunk in _row_chunks(array, chunk_rows):
            stats.update(chunk)
        return stats

    def self_moments(self) -> _CrossMoments:
        """The cross moments of the view with itself: ``XᵀX``, ``Xᵀa``, ``Xᵀa``, ``aᵀa``."""
        return _CrossMoments(self.gram, self.weighted, self.weighted, self.norm_sq_sum)


def _hsic(x: LayerStatistics, y: LayerStatistics, cross: _CrossMoments, debiased: bool) -> float:
    """HSIC of the linear kernels of two views from their sums (module docstring for the formulas).

    The biased value omits its ``1 / (n - 1)²`` factor, which cancels in CKA.
    """
    n = x.num_rows
    if debiased:
        if n < 4:
            raise ValueError(f"debiased CKA needs at least 4 rows, got {n}")
        trace = (cross.product * cross.product).sum() - cross.norms_dot
        sum_k = x.col_sum @ x.col_sum - x.norm_sum
        sum_l = y.col_sum @ y.col_sum - y.norm_sum
        row_sums_dot = (
            x.col_sum @ cross.product @ y.col_sum
            - x.col_sum @ cross.x_weighted_by_b
            - cross.y_weighted_by_a @ y.col_sum
            + cross.norms_dot
        )
        value = (trace + sum_k * sum_l / ((n - 1) * (n - 2)) - 2.0 * row_sums_dot / (n - 2)) / (n * (n - 3))
        return float(value)
    if n < 2:
        raise ValueError(f"CKA needs at least 2 rows, got {n}")
    centred = cross.product - torch.outer(x.col_sum, y.col_sum) / n
    return float((centred * centred).sum())


def _cka_from_hsic(xy: float, xx: float, yy: float, debiased: bool) -> float:
    if xx == 0.0 or yy == 0.0:
        raise ValueError("a view is constant over the rows: CKA is undefined")
    if xx <= 0.0 or yy <= 0.0:
        # The unbiased self-HSIC can be <= 0 for tiny or degenerate samples; no CKA exists then.
        return math.nan
    return xy / math.sqrt(xx * yy)


class CKAStatistics:
    """Streaming accumulator for the CKA of one pair of views, biased and debiased.

    ``update(x_chunk, y_chunk)`` adds matching row chunks of both views; ``cka(debiased)`` reads the
    result at any time. Passing precomputed :class:`LayerStatistics` for a view (as
    :func:`cka_matrix` does, one per layer for many pairs) makes ``update`` accumulate only the cross
    terms; the chunks must then cover the same rows, in the same order, as those statistics did.
    """

    def __init__(
        self,
        x: LayerStatistics | None = None,
        y: LayerStatistics | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._owns_x, self._owns_y = x is None, y is None
        self.x = x if x is not None else LayerStatistics(self.device)
        self.y = y if y is not None else LayerStatistics(self.device)
        self.num_rows = 0
        self._cross: _CrossMoments | None = None

    def __repr__(self) -> str:
        return f"CKAStatistics(rows={self.num_rows}, x={self.x!r}, y={self.y!r})"

    def update(self, x_chunk: ArrayLike, y_chunk: ArrayLike) -> CKAStatistics:
        if len(x_chunk) != len(y_chunk):
            raise ValueError(f"chunks differ in rows: {len(x_chunk)} and {len(y_chunk)}")
        if len(x_chunk) == 0:
            return self
        x, a = self.x.prepare(x_chunk)
        y, b = self.y.prepare(y_chunk)
        y = y.to(x.device)
        b = b.to(x.device)
        if self._owns_x:
            self.x.accumulate(x, a)
        if self._owns_y:
            self.y.accumulate(y, b)
        if self._cross is None:
            self._cross = _CrossMoments(
                x.new_zeros(x.shape[1], y.shape[1]),
                x.new_zeros(x.shape[1]),
                x.new_zeros(y.shape[1]),
                x.new_zeros(()),
            )
        self._cross.product += x.T @ y
        self._cross.x_weighted_by_b += x.T @ b
        self._cross.y_weighted_by_a += y.T @ a
        self._cross.norms_dot += a @ b
        self.num_rows += len(x)
        return self

    def cross_hsic(self, debiased: bool = True) -> float:
        """``HSIC(K, L)`` (the biased one without its 1/(n-1)² factor)."""
        if self._cross is None:
            raise ValueError("CKAStatistics has seen no rows")
        if not (self.num_rows == self.x.num_rows == self.y.num_rows):
            raise ValueError(
                f"row counts differ: {self.num_rows} paired rows, views of {self.x.num_rows} and "
                f"{self.y.num_rows}: the chunks must cover the rows the view statistics were built from"
            )
        return _hsic(self.x, self.y, self._cross, debiased)

    def hsic(self, debiased: bool = True) -> tuple[float, float, float]:
        """``(HSIC(K, L), HSIC(K, K), HSIC(L, L))`` (biased ones without their 1/(n-1)² factor)."""
        return (
            self.cross_hsic(debiased),
            _hsic(self.x, self.x, self.x.self_moments(), debiased),
            _hsic(self.y, self.y, self.y.self_moments(), debiased),
        )

    def cka(self, debiased: bool = True) -> float:
        return _cka_from_hsic(*self.hsic(debiased), debiased=debiased)


def linear_cka(
    x: ArrayLike,
    y: ArrayLike,
    debiased: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    device: str | torch.device | None = None,
) -> float:
    """Linear CKA of two views ``x`` (n, p) and ``y`` (n, q) of the same rows (debiased by default).

    Arrays, float16 memory maps and tensors are read ``chunk_rows`` rows at a time and accumulated in
    float64 on ``device``; nothing of size n×n is formed (module docstring for the formulas). NaN
    when a debiased self-similarity estimate is not positive (tiny or degenerate samples).
    """
    if len(x) != len(y):
        raise ValueError(f"views must have the same rows, got {len(x)} and {len(y)}")
    stats = CKAStatistics(device=device)
    for x_chunk, y_chunk in zip(_row_chunks(x, chunk_rows), _row_chunks(y, chunk_rows)):
        stats.update(x_chunk, y_chunk)
    return stats.cka(debiased)


def cka_matrix(
    layers_a: Mapping[str, ArrayLike],
    layers_b: Mapping[str, ArrayLike] | None = None,
    debiased: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    device: str | torch.device | None = None,
) -> tuple[list[str], list[str], np.ndarray]:
    """Layer × layer CKA: ``(names_a, names_b, matrix)`` with ``matrix[i, j] = CKA(a_i, b_j)``.

    ``layers_a`` and ``layers_b`` map layer names to views of the *same* rows (e.g. the frame rows of
    two upstreams' stores over one manifest). Each layer's own sums are computed once; each pair adds
    one pass for its cross terms. Without ``layers_b`` the matrix is that of ``layers_a`` with itself
    (symmetric, only the upper triangle computed, unit diagonal).
    """
    symmetric = layers_b is None
    b_layers = layers_a if layers_b is None else layers_b
    names_a, names_b = list(layers_a), list(b_layers)
    if not names_a or not names_b:
        raise ValueError("cka_matrix needs at least one layer on each side")
    rows = {len(v) for v in (*layers_a.values(), *b_layers.values())}
    if len(rows) != 1:
        raise ValueError(f"every layer must have the same rows; got row counts {sorted(rows)}")

    stats_a = {name: LayerStatistics.from_array(layers_a[name], chunk_rows, device) for name in names_a}
    stats_b = (
        stats_a
        if symmetric
        else {name: LayerStatistics.from_array(b_layers[name], chunk_rows, device) for name in names_b}
    )
    self_hsic = {
        (side, name): _hsic(s, s, s.self_moments(), debiased)
        for side, table in (("a", stats_a), ("b", stats_b))
        for name, s in table.items()
    }

    matrix = np.full((len(names_a), len(names_b)), np.nan)
    for i, name_a in enumerate(names_a):
        for j, name_b in enumerate(names_b):
            if symmetric and j < i:
                matrix[i, j] = matrix[j, i]
                continue
            xx, yy = self_hsic[("a", name_a)], self_hsic[("b", name_b)]
            if symmetric and i == j:
                xy = xx
            else:
                pair = CKAStatistics(stats_a[name_a], stats_b[name_b], device)
                for x_chunk, y_chunk in zip(
                    _row_chunks(layers_a[name_a], chunk_rows), _row_chunks(b_layers[name_b], chunk_rows)
                ):
                    pair.update(x_chunk, y_chunk)
                xy = pair.cross_hsic(debiased)
            matrix[i, j] = _cka_from_hsic(xy, xx, yy, debiased)
    return names_a, names_b, matrix
