"""Canonical correlation analysis of two views: plain CCA, SVCCA and PWCCA, in float64 on torch.

Two views of the same n rows, x in R^dx and y in R^dy (a layer's frames and the log-mel frames, two
layers, pooled segments and one-hot labels), are compared through linear projections that correlate
maximally (Hotelling 1936). Everything here is computed from *sufficient statistics* gathered in one
streaming pass over row chunks (so a float16 memmap of 180k x 768 is never loaded whole):

    n,  s_x = sum (x - c_x),  s_y = sum (y - c_y),
    G_xx = sum (x - c_x)(x - c_x)^T,  G_yy = sum (y - c_y)(y - c_y)^T,  G_xy = sum (x - c_x)(y - c_y)^T

with a fixed per-view shift c (the mean of the first chunk) so that the centred scatter
S_xx = G_xx - s_x s_x^T / n does not lose digits to large feature offsets. Covariances are
Sigma = S / (n - 1), as ``np.cov``.

Fitting (the numerics of the SVCCA/PWCCA reference code, google/svcca as modified by Pasad et al.):

1. Scale: Sxx' = Sigma_xx / max|Sigma_xx|, Syy' = Sigma_yy / max|Sigma_yy| and
   Sxy' = Sigma_xy / sqrt(max|Sigma_xx| max|Sigma_yy|).
2. Remove near-constant coordinates: keep coordinate j of x iff |Sxx'_jj| >= eps_x (the same eps
   serves as threshold and ridge, as in the reference); likewise for y.
3. One eigendecomposition of the kept block, Sxx'[keep, keep] = V diag(lam) V^T. Directions with
   lam <= null_tol * max(lam) are numerically null (exact linear dependences between columns, such
   as one-hot columns that sum to one) and are dropped; the reference keeps them and lets the ridge
   amplify rounding noise by eps^-1/2 (see "Differences from the reference" below).
4. Ridge and inverse square root, reusing the eigendecomposition for every eps:
   W_x = (Sxx' + eps_x I)^-1/2 = V diag((lam + eps_x)^-1/2) V^T (the reference: ``pinv`` then an
   ``eigh`` square root: the same matrix whenever lam + eps > 0).
5. M = W_x Sxy' W_y = U diag(rho) V_c^T. The singular values rho_1 >= ... >= rho_k,
   k = min(r_x, r_y) (r = retained directions), are the canonical correlations on the training data.
   M is formed in the eigenbases, M = V_x [F_x (V_x^T Sxy' V_y) F_y] V_y^T with F = diag((lam+eps)^-1/2),
   and its SVD is taken through the eigendecomposition of the smaller Gram matrix of the bracket.
6. Projections: A = W_x U[:, :k], B = W_y V_c[:, :k]; canonical variates h = (x - mu_x)^T A,
   g = (y - mu_y)^T B. The projection matrices are those of the reference (proj_mat = A^T), scale
   included.

Scoring a block of rows (held-out data: centred with *its own* means, as the reference does), with
S the block's centred scatter matrices:

    rho_i = cos(H_i, G_i) = (A^T S_xy B)_ii / sqrt((A^T S_xx A)_ii (B^T S_yy B)_ii)

* CCA: the mean canonical correlation (1/k) sum_i rho_i (Raghu et al. 2017's mean CCA similarity).
* SVCCA (Raghu et al. 2017): each view is first reduced to its leading principal components that
  explain at least ``variance_kept`` of its variance (eigendecomposition of Sigma), then the steps
  above run on the reduced covariances; the score is the mean canonical correlation.
* PWCCA (Morcos et al. 2018): sum_i alpha_i rho_i / sum_i alpha_i with projection weights

      alpha_i = sum_{j in J} |<q_i, xt_j>|,

  q_1..q_k the orthonormal columns of the thin QR decomposition H = QR of the block's centred
  canonical variates of the weighting view (Gram-Schmidt in order of decreasing training
  correlation), xt_j the block's centred column j of that view, J its kept columns. The weighting
  view is the one with fewer kept columns (ties: y), as in the reference. From statistics only:
  H^T H = A^T S_xx A = L L^T (Cholesky, so R = D L^T with D a diagonal of signs) and
  Q^T Xt_J = R^-T H^T Xt_J = D L^-1 A^T S_xx[:, J]; the signs vanish under |.|, so the weights equal
  the QR-based definition exactly, without a second pass over the data. Equivalently
  alpha_i = sum_j ||xt_j|| |corr(q_i, x_j)|: correlations weighted by each neuron's spread.

Differences from the reference (``codes/tools/cca_core.py`` of ankitapasad/layerwise-analysis):

* PWCCA weights. The reference adds each kept neuron's mean to the matching canonical variate
  before the QR (dirns_i = H_i + mu_i 1, mimicking google/svcca's pwcca.py) and takes inner products
  with the *uncentred* neurons. Its weights therefore depend on the neurons' offsets, on the
  arbitrary overall scale of the projection matrix and on the arbitrary sign LAPACK gives each
  singular-vector pair (flipping (u_i, v_i) changes span(H_i + mu_i 1)); they are not a function of
  the data alone. Here the variates and neurons are centred (Morcos et al.'s definition), which
  makes the weights well defined and translation invariant. When the block's column means are zero
  both definitions coincide exactly. The reference also restricts the neurons to the first k kept
  ones; for the view it weights with (the smaller one) that is every kept neuron, as here.
* Numerically null directions (step 3) are dropped instead of being amplified by eps^-1/2. In the
  reference such a direction gets a training correlation of about 0 and a held-out projection made
  of rounding noise, whose QR weight is about 0, so PWCCA scores agree; the mean CCA differs by
  leaving that direction out of the average.
* A pair (eps_x, eps_y) fails (the analogue of the reference's ``LinAlgError``) when a view keeps no
  column or direction, or a factorisation does not converge; callers skip it and record why.

Invariances: the canonical correlations, hence the CCA score, are invariant to invertible affine
maps x -> W x + b of either view (up to the effect of the ridge, eps relative to the scaled
covariance); SVCCA's principal-component cut is invariant to orthogonal maps and translations only.
PWCCA weights use the neurons of the weighting view, so PWCCA is invariant to invertible affine maps
of the *other* view, and to translations, permutations, sign flips and a common scale of the
weighting view's neurons, but not to general linear maps of it.

References:
    Hotelling, H. (1936). Relations between two sets of variates. Biometrika 28, 321-377.
    Raghu, M., Gilmer, J., Yosinski, J., Sohl-Dickstein, J. (2017). SVCCA: Singular vector canonical
        correlation analysis for deep learning dynamics and interpretability. NeurIPS.
    Morcos, A., Raghu, M., Bengio, S. (2018). Insights on representational similarity in neural
        networks with canonical correlation. NeurIPS.
    Pasad, A., Chou, J.-C., Livescu, K. (2021). Layer-wise analysis of a self-supervised speech
        representation model. ASRU. Pasad, A., Shi, B., Livescu, K. (2023). Comparative layer-wise
        analysis of self-supervised speech models. ICASSP. (The cross-validation protocol, see
        :mod:`speechrep.analysis.cca_protocol`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from scipy.linalg import blas
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

Method = Literal["cca", "svcca", "pwcca"]
METHODS: tuple[str, ...] = ("cca", "svcca", "pwcca")
DEFAULT_CHUNK_ROWS = 32768
NULL_TOL = 1e-12  # eigenvalues <= NULL_TOL * max eigenvalue of a scaled covariance are numerically zero
_RELIABLE_SINGULAR = 1e-7  # singular vectors recovered as M v / s only where s > this * s_max
_DTYPE = torch.float64


class PairFailure(RuntimeError):
    """A regularisation pair (eps_x, eps_y) for which no canonical solution exists; skip it."""


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` picks CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# --------------------------------------------------------------------------------------------------
# Sufficient statistics


@dataclass(frozen=True, eq=False)
class Moments:
    """Sums over a block of paired rows, around fixed shifts ``c`` shared by every block of a pass.

    ``sum_x = sum (x - shift_x)``, ``sum_xx = sum (x - shift_x)(x - shift_x)^T`` and so on, float64
    tensors on one device. Blocks with the same shifts add (``a + b``), which is how a training set
    is assembled from splits.
    """

    count: int
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    sum_x: torch.Tensor
    sum_y: torch.Tensor
    sum_xx: torch.Tensor
    sum_yy: torch.Tensor
    sum_xy: torch.Tensor

    def __add__(self, other: Moments) -> Moments:
        if not (torch.equal(self.shift_x, other.shift_x) and torch.equal(self.shift_y, other.shift_y)):
            raise ValueError("only moments accumulated around the same shifts can be added")
        return Moments(
            self.count + other.count,
            self.shift_x,
            self.shift_y,
            self.sum_x + other.sum_x,
            self.sum_y + other.sum_y,
            self.sum_xx + other.sum_xx,
            self.sum_yy + other.sum_yy,
            self.sum_xy + other.sum_xy,
        )

    @property
    def dims(self) -> tuple[int, int]:
        return self.sum_x.shape[0], self.sum_y.shape[0]

    @property
    def mean_x(self) -> torch.Tensor:
        return self.shift_x + self.sum_x / self.count

    @property
    def mean_y(self) -> torch.Tensor:
        return self.shift_y + self.sum_y / self.count

    def scatter(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Centred scatter matrices S = sum (x - mean)(x - mean)^T: (S_xx, S_yy, S_xy)."""
        if self.count < 1:
            raise ValueError("empty block")
        mx, my = self.sum_x / self.count, self.sum_y / self.count
        sxx = self.sum_xx - self.count * torch.outer(mx, mx)
        syy = self.sum_yy - self.count * torch.outer(my, my)
        sxy = self.sum_xy - self.count * torch.outer(mx, my)
        return (sxx + sxx.T) / 2, (syy + syy.T) / 2, sxy

    def covariances(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sigma = S / (n - 1) (``np.cov``'s normalisation)."""
        if self.count < 2:
            raise ValueError(f"need at least two rows for a covariance, got {self.count}")
        return tuple(s / (self.count - 1) for s in self.scatter())  # type: ignore[return-value]


def sum_moments(blocks: Sequence[Moments]) -> Moments:
    if not blocks:
        raise ValueError("no blocks to add")
    total = blocks[0]
    for block in blocks[1:]:
        total = total + block
    return total


def check_view(x: Any, name: str) -> Any:
    """Validate a (rows, dim) view without reading it: numpy arrays and memmaps stay as they are."""
    if isinstance(x, torch.Tensor):
        view = x
    elif hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__getitem__"):
        view = x
    else:
        view = np.asarray(x)
    if len(view.shape) != 2:
        raise ValueError(f"{name} must be a 2-D (rows, dim) array, got shape {tuple(view.shape)}")
    if isinstance(view, torch.Tensor):
        ok = view.dtype.is_floating_point or not (view.dtype.is_complex or view.dtype == torch.bool)
    else:
        ok = np.issubdtype(view.dtype, np.integer) or np.issubdtype(view.dtype, np.floating)
    if not ok:
        raise ValueError(f"{name} must hold real numbers, got dtype {view.dtype}")
    if view.shape[0] < 1 or view.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {tuple(view.shape)}")
    return view


def accumulate_moments(
    x: Any,
    y: Any,
    groups: np.ndarray | None = None,
    num_groups: int | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    device: str | torch.device | None = None,
) -> list[Moments]:
    """One streaming pass over ``chunk_rows`` rows at a time: the :class:`Moments` of each group.

    ``groups[i]`` in ``[0, num_groups)`` names row i's group (-1: leave the row out); ``None`` puts
    every row in one group. Only one chunk (converted to float64) is in memory at a time. On the CPU
    the Gram updates are symmetric rank-k updates (BLAS ``dsyrk``: half the work of a product, and
    no interleaving of two thread pools); on other devices they are torch products.
    """
    x, y = check_view(x, "x"), check_view(y, "y")
    n, dx = x.shape
    dy = y.shape[1]
    if y.shape[0] != n:
        raise ValueError(f"x and y must have the same rows: {n} != {y.shape[0]}")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    dev = resolve_device(device)
    if groups is None:
        assignment, num_groups = np.zeros(n, dtype=np.int64), 1
    else:
        assignment = np.asarray(groups)
        if assignment.shape != (n,) or not np.issubdtype(assignment.dtype, np.integer):
            raise ValueError(f"groups must be {n} integers, got {assignment.dtype} {assignment.shape}")
        if num_groups is None:
            num_groups = int(assignment.max()) + 1
        if assignment.min() < -1 or assignment.max() >= num_groups:
            raise ValueError(f"group ids must lie in [-1, {num_groups})")
    accumulate = _accumulate_cpu if dev.type == "cpu" else _accumulate_torch
    counts, shift, sums, grams = accumulate(x, y, assignment.astype(np.int64), num_groups, chunk_rows, dev)
    for name, cols in (("x", slice(0, dx)), ("y", slice(dx, dx + dy))):
        if not (torch.isfinite(sums[:, cols]).all() and torch.isfinite(grams[:, cols, cols]).all()):
            raise ValueError(f"{name} holds non-finite values (NaN or inf)")
    return [
        Moments(
            int(counts[k]),
            shift[:dx].clone(),
            shift[dx:].clone(),
            sums[k, :dx].clone(),
            sums[k, dx:].clone(),
            grams[k, :dx, :dx].clone(),
            grams[k, dx:, dx:].clone(),
            grams[k, :dx, dx:].clone(),
        )
        for k in range(num_groups)
    ]


def _group_bounds(groups: np.ndarray, num_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """A stable order putting each group's rows together, and where each group starts (-1 first)."""
    order = np.argsort(groups, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(groups + 1, minlength=num_groups + 1))])
    return order, bounds


def _accumulate_cpu(
    x: Any, y: Any, assignment: np.ndarray, num_groups: int, chunk_rows: int, dev: torch.device
):
    n, dx = x.shape
    d = dx + y.shape[1]
    counts = np.zeros(num_groups, dtype=np.int64)
    sums = np.zeros((num_groups, d))
    grams = [np.zeros((d, d), order="F") for _ in range(num_groups)]  # upper triangles, for dsyrk
    shift = None
    buffer = np.empty((min(chunk_rows, n), d))
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        z = buffer[: stop - start]
        z[:, :dx] = _host_rows(x, start, stop)
        z[:, dx:] = _host_rows(y, start, stop)
        if shift is None:
            shift = z.mean(axis=0)
        z -= shift
        order, bounds = _group_bounds(assignment[start:stop], num_groups)
        if num_groups > 1 or bounds[1] > 0:
            z = z[order]
        for k in range(num_groups):
            zg = z[bounds[k + 1] : bounds[k + 2]]
            if len(zg):
                counts[k] += len(zg)
                sums[k] += zg.sum(axis=0)
                grams[k] = blas.dsyrk(1.0, zg.T, beta=1.0, c=grams[k], trans=0, lower=0, overwrite_c=1)
    full = np.stack([np.triu(g) + np.triu(g, 1).T for g in grams])
    return counts, torch.from_numpy(shift), torch.from_numpy(sums), torch.from_numpy(full)


def _accumulate_torch(
    x: Any, y: Any, assignment: np.ndarray, num_groups: int, chunk_rows: int, dev: torch.device
):
    n, dx = x.shape
    d = dx + y.shape[1]
    counts = np.zeros(num_groups, dtype=np.int64)
    sums = torch.zeros(num_groups, d, dtype=_DTYPE, device=dev)
    grams = torch.zeros(num_groups, d, d, dtype=_DTYPE, device=dev)
    shift = None
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        z = torch.cat([_device_rows(x, start, stop, dev), _device_rows(y, start, stop, dev)], dim=1)
        if shift is None:
            shift = z.mean(dim=0)
        z -= shift
        order, bounds = _group_bounds(assignment[start:stop], num_groups)
        z = z[torch.from_numpy(order).to(dev)]
        for k in range(num_groups):
            zg = z[bounds[k + 1] : bounds[k + 2]]
            if len(zg):
                counts[k] += len(zg)
                sums[k] += zg.sum(dim=0)
                grams[k].addmm_(zg.T, zg)
    return counts, shift, sums, grams


def _host_rows(view: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` as a host array (only this slice is read from a memmap)."""
    rows = view[start:stop]
    return rows.detach().cpu().numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows)


def _device_rows(view: Any, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Rows ``start:stop`` as float64 on ``device``."""
    if isinstance(view, torch.Tensor):
        return view[start:stop].to(device=device, dtype=_DTYPE)
    return torch.from_numpy(np.asarray(view[start:stop], dtype=np.float64)).to(device)


# --------------------------------------------------------------------------------------------------
# Canonical solutions from statistics


@dataclass(frozen=True, eq=False)
class ViewBasis:
    """One view's factorisation of its scaled training covariance for one kept-coordinate mask.

    ``transform`` (d_in, r) maps centred input rows to the eigen-coordinates of the kept block of
    the scaled covariance (after the SVCCA reduction, if any); ``eigenvalues`` (r,) are lam.
    ``neurons`` are the kept input columns (the PWCCA weighting neurons; CCA and PWCCA only).
    """

    keep: torch.Tensor
    transform: torch.Tensor
    eigenvalues: torch.Tensor
    neurons: torch.Tensor | None

    @property
    def rank(self) -> int:
        return self.eigenvalues.shape[0]


class _ViewFactoriser:
    """Scaled covariance of one view with an eigendecomposition cache keyed by the kept mask."""

    def __init__(self, cov: torch.Tensor, premap: torch.Tensor | None, null_tol: float) -> None:
        self.premap = premap
        self.cov = cov if premap is None else premap.T @ cov @ premap
        self.scale = float(self.cov.abs().max())
        self.scaled = self.cov / self.scale if self.scale > 0 else self.cov
        self.null_tol = null_tol
        self._cache: dict[bytes, ViewBasis] = {}

    def basis(self, eps: float) -> ViewBasis:
        if self.scale == 0.0:
            raise PairFailure("the view is constant")
        keep = self.scaled.diagonal().abs() >= eps
        key = keep.cpu().numpy().tobytes()
        if key not in self._cache:
            self._cache[key] = self._factorise(self.scaled, keep)
        return self._cache[key]

    def _factorise(self, scaled: torch.Tensor, keep: torch.Tensor) -> ViewBasis:
        idx = torch.nonzero(keep).flatten()
        if idx.numel() == 0:
            raise PairFailure("no coordinate has a scaled variance above eps")
        block = scaled[idx][:, idx]
        try:
            lam, vec = torch.linalg.eigh((block + block.T) / 2)
        except torch.linalg.LinAlgError as error:
            raise PairFailure(f"eigendecomposition failed: {error}") from error
        retained = lam > self.null_tol * lam.max().clamp_min(0)
        if not bool(retained.any()):
            raise PairFailure("the kept covariance block has no positive eigenvalue")
        lam, vec = lam[retained], vec[:, retained]
        if self.premap is None:
            transform = torch.zeros(scaled.shape[0], lam.shape[0], dtype=_DTYPE, device=lam.device)
            transform[idx] = vec
            neurons = idx
        else:
            transform = self.premap[:, idx] @ vec
            neurons = None
        return ViewBasis(keep, transform, lam, neurons)


@dataclass(frozen=True, eq=False)
class CanonicalSolution:
    """Canonical directions for one (eps_x, eps_y): A = T_x coef_x, B = T_y coef_y (input coords)."""

    eps_x: float
    eps_y: float
    basis_x: ViewBasis
    basis_y: ViewBasis
    coef_x: torch.Tensor  # (r_x, k) on the eigen-coordinates of basis_x
    coef_y: torch.Tensor  # (r_y, k)
    correlations: torch.Tensor  # (k,) training canonical correlations, descending
    weight_view: Literal["x", "y"]

    @property
    def num_components(self) -> int:
        return self.correlations.shape[0]

    def projections(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(A, B): (d_x, k) and (d_y, k); canonical variates are (x - mean) @ A, (y - mean) @ B."""
        return self.basis_x.transform @ self.coef_x, self.basis_y.transform @ self.coef_y


@dataclass(frozen=True)
class BlockScore:
    """Score of a canonical solution on one block of rows (its own means)."""

    score: float
    correlations: np.ndarray  # (k,) rho_i on the block
    weights: np.ndarray | None  # (k,) PWCCA alpha_i / sum alpha, None for CCA and SVCCA


@dataclass(frozen=True, eq=False)
class _ProjectedBlock:
    exx: torch.Tensor  # T_x^T S_xx T_x
    eyy: torch.Tensor
    exy: torch.Tensor
    cross: torch.Tensor | None  # T_w^T S_ww[:, J] for the weighting view


def _svd_via_eigh(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Thin SVD m = U diag(s) V^T (descending s) from the eigendecomposition of the smaller Gram.

    Singular vectors of the larger side are M v / s where s > 1e-7 s_max; the rest (numerically
    zero singular values, whose vectors are arbitrary) are completed to an orthonormal set.
    """
    transposed = m.shape[0] < m.shape[1]
    if transposed:
        m = m.T
    gram = m.T @ m
    try:
        evals, v = torch.linalg.eigh((gram + gram.T) / 2)
    except torch.linalg.LinAlgError as error:
        raise PairFailure(f"eigendecomposition of the whitened cross-covariance failed: {error}") from error
    evals, v = evals.flip(0).clamp_min(0), v.flip(1)
    s = evals.sqrt()
    reliable = s > s[0] * _RELIABLE_SINGULAR if bool(s[0] > 0) else torch.zeros_like(s, dtype=torch.bool)
    good = int(reliable.sum())
    u = torch.empty(m.shape[0], s.shape[0], dtype=m.dtype, device=m.device)
    u[:, :good] = (m @ v[:, :good]) / s[:good]
    if good < s.shape[0]:  # orthonormal complement of the reliable columns
        projector = torch.eye(m.shape[0], dtype=m.dtype, device=m.device) - u[:, :good] @ u[:, :good].T
        _, comp = torch.linalg.eigh((projector + projector.T) / 2)
        u[:, good:] = comp.flip(1)[:, : s.shape[0] - good]
        # their singular values: u^T M v (more accurate than sqrt of a rounding-level eigenvalue)
        tail = (u[:, good:] * (m @ v[:, good:])).sum(dim=0)
        u[:, good:] *= torch.where(tail < 0, -1.0, 1.0)
        s = torch.cat([s[:good], tail.abs()])
    return (v, s, u) if transposed else (u, s, v)


def _cholesky(gram: torch.Tensor) -> torch.Tensor:
    gram = (gram + gram.T) / 2
    chol, info = torch.linalg.cholesky_ex(gram)
    jitter = 1e-13 * float(gram.diagonal().mean().clamp_min(torch.finfo(_DTYPE).tiny))
    tries = 0
    while int(info) != 0 and tries < 4:  # a held-out variate of (numerically) zero variance
        eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        chol, info = torch.linalg.cholesky_ex(gram + jitter * eye)
        jitter *= 100.0
        tries += 1
    if int(info) != 0:
        raise PairFailure("the canonical variates are linearly dependent on the scored rows")
    return chol


class CCASolver:
    """Canonical solutions of one training set for any (eps_x, eps_y), and their scores on blocks.

    Built from the training :class:`Moments`; per view, the scaled covariance is factorised once per
    distinct kept-coordinate mask (in practice once) and reused for every eps. ``solve`` then costs
    one small eigendecomposition (the SVD of the whitened cross-covariance); ``evaluate`` scores a
    solution on any block of rows from its statistics.
    """

    def __init__(
        self,
        train: Moments,
        method: Method = "pwcca",
        *,
        variance_kept: float = 0.99,
        null_tol: float = NULL_TOL,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if not 0.0 < variance_kept <= 1.0:
            raise ValueError("variance_kept must lie in (0, 1]")
        if not 0.0 <= null_tol < 1.0:
            raise ValueError("null_tol must lie in [0, 1)")
        self.method = method
        self.train = train
        cxx, cyy, cxy = train.covariances()
        self.cov_xy = cxy
        premap_x = premap_y = None
        self.variance_fraction: tuple[float, float] | None = None
        if method == "svcca":
            premap_x, frac_x = principal_subspace(cxx, variance_kept)
            premap_y, frac_y = principal_subspace(cyy, variance_kept)
            self.variance_fraction = (frac_x, frac_y)
        self.premaps = (premap_x, premap_y)
        self._x = _ViewFactoriser(cxx, premap_x, null_tol)
        self._y = _ViewFactoriser(cyy, premap_y, null_tol)
        self._cross: dict[tuple[int, int], torch.Tensor] = {}
        self._blocks: dict[tuple[str, int, int], _ProjectedBlock] = {}

    def solve(self, eps_x: float, eps_y: float) -> CanonicalSolution:
        """The canonical directions for one ridge pair; raises :class:`PairFailure` if none exist."""
        for eps in (eps_x, eps_y):
            if not (np.isfinite(eps) and eps >= 0):
                raise ValueError(f"eps must be finite and non-negative, got {eps}")
        bx, by = self._x.basis(eps_x), self._y.basis(eps_y)
        key = (id(bx), id(by))
        if key not in self._cross:  # Sxy' in the two eigenbases
            scale = (self._x.scale * self._y.scale) ** 0.5
            self._cross[key] = (bx.transform.T @ self.cov_xy @ by.transform) / scale
        fx = torch.rsqrt(bx.eigenvalues + eps_x)
        fy = torch.rsqrt(by.eigenvalues + eps_y)
        u, s, v = _svd_via_eigh(fx[:, None] * self._cross[key] * fy[None, :])
        if not bool(torch.isfinite(s).all()):
            raise PairFailure("non-finite canonical correlations")
        weight_view: Literal["x", "y"] = "x" if int(bx.keep.sum()) < int(by.keep.sum()) else "y"
        return CanonicalSolution(eps_x, eps_y, bx, by, fx[:, None] * u, fy[:, None] * v, s, weight_view)

    def evaluate(self, solution: CanonicalSolution, block: Moments, key: str | None = None) -> BlockScore:
        """Score ``solution`` on the rows summarised by ``block`` (centred with the block's means).

        ``key`` names the block for caching its projection onto the solution's eigenbases, which
        every eps pair sharing those bases reuses (pass distinct keys for distinct blocks).
        """
        projected = self._project(solution, block, key)
        a, b = solution.coef_x, solution.coef_y
        exx_a, eyy_b = projected.exx @ a, projected.eyy @ b
        var_x = (a * exx_a).sum(dim=0)
        var_y = (b * eyy_b).sum(dim=0)
        cov = (a * (projected.exy @ b)).sum(dim=0)
        den = (var_x.clamp_min(0) * var_y.clamp_min(0)).sqrt()
        rho = torch.where(den > 0, cov / torch.where(den > 0, den, 1.0), 0.0)
        if self.method != "pwcca":
            return BlockScore(float(rho.mean()), rho.cpu().numpy(), None)
        coef, e_coef = (a, exx_a) if solution.weight_view == "x" else (b, eyy_b)
        if block.count - 1 < coef.shape[1]:  # centred rows span at most count - 1 dimensions
            raise PairFailure(
                f"{coef.shape[1]} canonical variates cannot be weighted on {block.count} rows: PWCCA "
                f"needs more rows than variates in every scored split (more data, or fewer dims)"
            )
        assert projected.cross is not None
        chol = _cholesky(coef.T @ e_coef)
        inner = torch.linalg.solve_triangular(chol, coef.T @ projected.cross, upper=False)
        alpha = inner.abs().sum(dim=1)
        total = float(alpha.sum())
        if not total > 0:
            raise PairFailure("all projection weights are zero on the scored rows")
        weights = alpha / total
        return BlockScore(float((weights * rho).sum()), rho.cpu().numpy(), weights.cpu().numpy())

    def _project(self, solution: CanonicalSolution, block: Moments, key: str | None) -> _ProjectedBlock:
        bx, by = solution.basis_x, solution.basis_y
        cache_key = (key, id(bx), id(by)) if key is not None else None
        if cache_key is not None and cache_key in self._blocks:
            return self._blocks[cache_key]
        if block.dims != self.train.dims:
            raise ValueError(f"block dims {block.dims} differ from the training dims {self.train.dims}")
        sxx, syy, sxy = block.scatter()
        tx_s = bx.transform.T @ sxx
        ty_s = by.transform.T @ syy
        cross = None
        if self.method == "pwcca":
            w_s, basis = (tx_s, bx) if solution.weight_view == "x" else (ty_s, by)
            assert basis.neurons is not None
            cross = w_s[:, basis.neurons]
        projected = _ProjectedBlock(
            tx_s @ bx.transform, ty_s @ by.transform, bx.transform.T @ sxy @ by.transform, cross
        )
        if cache_key is not None:
            self._blocks[cache_key] = projected
        return projected


def principal_subspace(cov: torch.Tensor, variance_kept: float) -> tuple[torch.Tensor, float]:
    """Leading eigenvectors of ``cov`` explaining at least ``variance_kept`` of its trace.

    Returns (P, fraction): P (d, r) with the fewest columns r such that
    sum_{i<=r} lam_i / sum_i lam_i >= variance_kept, and that fraction.
    """
    lam, vec = torch.linalg.eigh((cov + cov.T) / 2)
    lam, vec = lam.flip(0).clamp_min(0), vec.flip(1)
    total = float(lam.sum())
    if total <= 0:
        raise PairFailure("the view has no variance")
    cumulative = torch.cumsum(lam, 0) / total
    r = int(
        torch.searchsorted(cumulative, torch.tensor([variance_kept - 1e-12], dtype=_DTYPE, device=lam.device))
    )
    r = min(r + 1, lam.shape[0])
    return vec[:, :r].contiguous(), float(cumulative[r - 1])


# --------------------------------------------------------------------------------------------------
# Estimators


class _CCABase(BaseEstimator):
    """fit / transform / score on two views; see the module docstring for the formulas."""

    _method: ClassVar[Method]

    def fit(self, X: Any, Y: Any) -> _CCABase:
        """Fit on paired rows (arrays, memmaps or CPU tensors), in one streaming float64 pass."""
        self._check_params()
        device = resolve_device(self.device)
        (moments,) = accumulate_moments(X, Y, chunk_rows=self.chunk_rows, device=device)
        try:
            solver = CCASolver(
                moments,
                self._method,
                variance_kept=getattr(self, "variance_kept", 0.99),
                null_tol=self.null_tol,
            )
            solution = solver.solve(self.epsilon_x, self.epsilon_y)
        except PairFailure as error:
            raise ValueError(
                f"no canonical solution for eps=({self.epsilon_x}, {self.epsilon_y}): {error}"
            ) from error
        a, b = solution.projections()
        self._solver, self._solution, self._device = solver, solution, device
        self.n_samples_fit_ = moments.count
        self.n_features_in_, self.n_features_y_in_ = moments.dims
        self.mean_x_ = moments.mean_x.cpu().numpy()
        self.mean_y_ = moments.mean_y.cpu().numpy()
        self.keep_x_ = solution.basis_x.keep.cpu().numpy()
        self.keep_y_ = solution.basis_y.keep.cpu().numpy()
        self.x_projection_ = a.cpu().numpy()
        self.y_projection_ = b.cpu().numpy()
        self.correlations_ = solution.correlations.cpu().numpy()
        self.n_components_ = solution.num_components
        return self

    def transform(self, X: Any, Y: Any | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Canonical variates (X - mean_x_) @ x_projection_ (and the same for Y), float64."""
        check_is_fitted(self, "correlations_")
        out_x = self._project(check_view(X, "X"), self.mean_x_, self.x_projection_, self.n_features_in_)
        if Y is None:
            return out_x
        return out_x, self._project(
            check_view(Y, "Y"), self.mean_y_, self.y_projection_, self.n_features_y_in_
        )

    def score(self, X: Any, Y: Any) -> float:
        """Similarity on these rows, centred with their own means (held-out data: the reported score)."""
        check_is_fitted(self, "correlations_")
        (moments,) = accumulate_moments(X, Y, chunk_rows=self.chunk_rows, device=self._device)
        if moments.dims != (self.n_features_in_, self.n_features_y_in_):
            raise ValueError(
                f"fitted on {self.n_features_in_} and {self.n_features_y_in_} features, got {moments.dims}"
            )
        if moments.count < 2:
            raise ValueError("scoring needs at least two rows")
        try:
            return self._solver.evaluate(self._solution, moments).score
        except PairFailure as error:
            raise ValueError(f"cannot score these rows: {error}") from error

    def _project(self, view: Any, mean: np.ndarray, projection: np.ndarray, dim: int) -> np.ndarray:
        if view.shape[1] != dim:
            raise ValueError(f"expected {dim} features, got {view.shape[1]}")
        mean_t = torch.from_numpy(mean).to(self._device)
        proj_t = torch.from_numpy(projection).to(self._device)
        out = np.empty((view.shape[0], projection.shape[1]))
        for start in range(0, view.shape[0], self.chunk_rows):
            stop = min(view.shape[0], start + self.chunk_rows)
            out[start:stop] = (
                ((_device_rows(view, start, stop, self._device) - mean_t) @ proj_t).cpu().numpy()
            )
        return out

    def _check_params(self) -> None:
        for name in ("epsilon_x", "epsilon_y"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and non-negative, got {value}")
        if self.chunk_rows < 1:
            raise ValueError("chunk_rows must be positive")


class CCA(_CCABase):
    """Plain CCA with the reference numerics; ``score`` is the mean canonical correlation.

    Fitted attributes: ``x_projection_`` (d_x, k) and ``y_projection_`` (d_y, k) (canonical variates
    are ``(X - mean_x_) @ x_projection_``), ``correlations_`` (k,) on the training rows,
    ``n_components_`` k, ``keep_x_``/``keep_y_`` (columns kept by the near-constant filter),
    ``mean_x_``, ``mean_y_``, ``n_samples_fit_``, ``n_features_in_``, ``n_features_y_in_``.
    """

    _method: ClassVar[Method] = "cca"

    def __init__(
        self,
        epsilon_x: float = 1e-10,
        epsilon_y: float = 1e-10,
        *,
        null_tol: float = NULL_TOL,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        device: str | None = None,
    ) -> None:
        self.epsilon_x = epsilon_x
        self.epsilon_y = epsilon_y
        self.null_tol = null_tol
        self.chunk_rows = chunk_rows
        self.device = device


class PWCCA(CCA):
    """Projection-weighted CCA (Morcos et al. 2018); ``score`` is sum alpha_i rho_i / sum alpha_i.

    The weights come from the view with fewer kept columns (ties: Y), ``weights_view_``; see the
    module docstring for the exact weighting and how it relates to the reference code.
    """

    _method: ClassVar[Method] = "pwcca"

    def fit(self, X: Any, Y: Any) -> PWCCA:
        super().fit(X, Y)
        self.weights_view_ = self._solution.weight_view
        return self


class SVCCA(_CCABase):
    """SVCCA (Raghu et al. 2017): principal components explaining ``variance_kept`` of each view's
    variance, then CCA; ``score`` is the mean canonical correlation.

    Extra fitted attributes: ``n_components_x_``/``n_components_y_`` (principal components kept) and
    ``explained_variance_x_``/``explained_variance_y_`` (the variance fraction they explain, at least
    ``variance_kept``); ``keep_x_``/``keep_y_`` refer to those components.
    """

    _method: ClassVar[Method] = "svcca"

    def __init__(
        self,
        variance_kept: float = 0.99,
        epsilon_x: float = 1e-10,
        epsilon_y: float = 1e-10,
        *,
        null_tol: float = NULL_TOL,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        device: str | None = None,
    ) -> None:
        self.variance_kept = variance_kept
        self.epsilon_x = epsilon_x
        self.epsilon_y = epsilon_y
        self.null_tol = null_tol
        self.chunk_rows = chunk_rows
        self.device = device

    def fit(self, X: Any, Y: Any) -> SVCCA:
        super().fit(X, Y)
        premap_x, premap_y = self._solver.premaps
        assert premap_x is not None and premap_y is not None and self._solver.variance_fraction
        self.n_components_x_, self.n_components_y_ = premap_x.shape[1], premap_y.shape[1]
        self.explained_variance_x_, self.explained_variance_y_ = self._solver.variance_fraction
        return self
