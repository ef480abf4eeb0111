"""CCA / SVCCA / PWCCA estimators: exact relations, chance level, invariances, statistics vs data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from speechrep.analysis.cca import CCA, PWCCA, SVCCA, Moments, _svd_via_eigh, accumulate_moments


def correlated_views(n: int, dx: int, dy: int, seed: int = 0, latent: int = 5, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent))
    x = z @ rng.standard_normal((latent, dx)) + noise * rng.standard_normal((n, dx))
    y = z @ rng.standard_normal((latent, dy)) + noise * rng.standard_normal((n, dy))
    x *= np.exp(rng.normal(0, 0.5, dx))  # neurons on different scales, with offsets
    y *= np.exp(rng.normal(0, 0.5, dy))
    return x + rng.normal(0, 3, dx), y + rng.normal(0, 3, dy)


def direct_scores(est, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The held-out scores computed the plain way: project the centred rows, QR for PWCCA weights."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    h, g = xc @ est.x_projection_, yc @ est.y_projection_
    rho = (h * g).sum(0) / np.sqrt((h * h).sum(0) * (g * g).sum(0))
    out = {"mean": float(rho.mean())}
    if isinstance(est, PWCCA):
        variates, neurons = (h, xc[:, est.keep_x_]) if est.weights_view_ == "x" else (g, yc[:, est.keep_y_])
        q, _ = np.linalg.qr(variates)
        alpha = np.abs(q.T @ neurons).sum(1)
        out["pwcca"] = float(np.sum(alpha / alpha.sum() * rho))
    return out


def test_exact_linear_relation_scores_one_on_held_out_rows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 50)) + 2.0
    a = rng.standard_normal((50, 30))  # full column rank
    y = x @ a
    for est in (PWCCA(), CCA(), SVCCA(variance_kept=1.0)):
        est.fit(x[:2000], y[:2000])
        assert est.n_components_ == 30
        assert est.score(x[2000:], y[2000:]) == pytest.approx(1.0, abs=1e-8)
    assert PWCCA().fit(x[:2000], x[:2000]).score(x[2000:], x[2000:]) == pytest.approx(1.0, abs=1e-8)


def test_independent_views_sit_at_zero_held_out_and_are_inflated_in_sample():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4000, 100)), rng.standard_normal((4000, 40))
    est = PWCCA().fit(x[:2000], y[:2000])
    in_sample, held_out = est.score(x[:2000], y[:2000]), est.score(x[2000:], y[2000:])
    assert in_sample > 0.12  # about sqrt(d / n): CCA always finds some correlation in the fitted rows
    assert abs(held_out) < 0.03
    assert est.correlations_[0] > 0.2


def test_statistics_based_held_out_scores_equal_direct_computation_on_data():
    x, y = correlated_views(3800, 30, 12, seed=2)
    x, y, xt, yt = x[:3000], y[:3000], x[3000:], y[3000:]
    for est, key in ((PWCCA(), "pwcca"), (CCA(), "mean"), (SVCCA(variance_kept=0.95), "mean")):
        est.fit(x, y)
        assert est.score(xt, yt) == pytest.approx(direct_scores(est, xt, yt)[key], abs=1e-8)
        assert est.score(x, y) == pytest.approx(direct_scores(est, x, y)[key], abs=1e-8)
    swapped = PWCCA().fit(y, x)  # now the weighting view is the first one
    assert swapped.weights_view_ == "x"
    assert swapped.score(yt, xt) == pytest.approx(direct_scores(swapped, yt, xt)["pwcca"], abs=1e-8)


def test_weights_equal_the_reference_procedure_when_means_vanish_and_drop_its_offset_dependence():
    """The reference adds neuron means to the variates before its QR and uses uncentred neurons."""
    x, y = correlated_views(4000, 30, 12, seed=4)
    x, y, xt, yt = x[:3000], y[:3000], x[3000:], y[3000:]
    xt, yt = xt - xt.mean(0), yt - yt.mean(0)
    est = PWCCA().fit(x, y)

    def reference_procedure(yt_block: np.ndarray) -> float:
        g = (yt_block - yt_block.mean(0)) @ est.y_projection_
        h = (xt - xt.mean(0)) @ est.x_projection_
        rho = (h * g).sum(0) / np.sqrt((h * h).sum(0) * (g * g).sum(0))
        q, _ = np.linalg.qr(g + yt_block.mean(0))  # dirns + neuron means (k == d_y here)
        alpha = np.abs(q.T @ yt_block).sum(1)  # uncentred neurons
        return float(np.sum(alpha / alpha.sum() * rho))

    assert est.score(xt, yt) == pytest.approx(reference_procedure(yt), abs=1e-10)
    shifted = yt + 50.0 * np.std(yt, axis=0)
    assert est.score(xt, shifted) == pytest.approx(est.score(xt, yt), abs=1e-10)
    assert abs(reference_procedure(shifted) - reference_procedure(yt)) > 1e-3


def test_invariance_to_invertible_affine_maps():
    """Exact up to the ridge: eps is relative to the scaled covariance, so tiny eps shows the invariance."""
    rng = np.random.default_rng(6)
    x, y = correlated_views(4000, 20, 10, seed=6)
    x, y, xt, yt = x[:3000], y[:3000], x[3000:], y[3000:]
    wx = np.eye(20) + 0.3 * rng.standard_normal((20, 20))
    wy = np.eye(10) + 0.3 * rng.standard_normal((10, 10))
    bx, by = rng.normal(0, 5, 20), rng.normal(0, 5, 10)
    for eps, tol in ((1e-14, 1e-10), (1e-10, 1e-5)):
        base = CCA(eps, eps).fit(x, y).score(xt, yt)
        moved = CCA(eps, eps).fit(x @ wx + bx, y @ wy + by).score(xt @ wx + bx, yt @ wy + by)
        assert moved == pytest.approx(base, abs=tol)
        # PWCCA weights with y's neurons: any affine map of x; translation, permutation, signs, scale of y
        base = PWCCA(eps, eps).fit(x, y).score(xt, yt)
        perm, signs = rng.permutation(10), rng.choice([-1.0, 1.0], 10)
        my = lambda v: 3.7 * (v[:, perm] * signs) + by  # noqa: E731, B023
        moved = PWCCA(eps, eps).fit(x @ wx + bx, my(y)).score(xt @ wx + bx, my(yt))
        assert moved == pytest.approx(base, abs=tol)
    assert PWCCA().fit(x, y @ wy).score(xt, yt @ wy) != pytest.approx(base, abs=1e-3)  # general map of y


def test_constant_and_zero_columns_are_dropped_without_changing_the_result():
    x, y = correlated_views(2600, 15, 6, seed=8)
    x, y, xt, yt = x[:2000], y[:2000], x[2000:], y[2000:]

    def pad(v):
        return np.column_stack([v[:, :3], np.zeros(len(v)), v[:, 3:], np.full(len(v), 5.0)])

    for cls in (CCA, PWCCA):
        plain = cls().fit(x, y)
        padded = cls().fit(pad(x), pad(y))
        assert padded.keep_x_.sum() == 15 and not padded.keep_x_[3] and not padded.keep_x_[-1]
        np.testing.assert_allclose(padded.correlations_, plain.correlations_, atol=1e-10)
        assert padded.score(pad(xt), pad(yt)) == pytest.approx(plain.score(xt, yt), abs=1e-10)
        np.testing.assert_allclose(padded.transform(pad(xt)), plain.transform(xt), atol=1e-8)


def test_canonical_correlations_match_textbook_cca():
    x, y = correlated_views(2500, 25, 9, seed=10)
    qx, _ = np.linalg.qr(x - x.mean(0))
    qy, _ = np.linalg.qr(y - y.mean(0))
    expected = np.linalg.svd(qx.T @ qy, compute_uv=False)
    est = CCA(1e-14, 1e-14).fit(x, y)
    np.testing.assert_allclose(est.correlations_, expected, atol=1e-9)
    h, g = est.transform(x, y)
    np.testing.assert_allclose(np.corrcoef(h[:, 0], g[:, 0])[0, 1], expected[0], atol=1e-9)
    assert abs(np.corrcoef(h[:, 0], h[:, 1])[0, 1]) < 1e-9  # canonical variates are uncorrelated


def test_svcca_keeps_the_requested_variance_fraction():
    x, y = correlated_views(3000, 40, 20, seed=11, latent=8)
    for fraction in (0.5, 0.9, 0.99):
        est = SVCCA(variance_kept=fraction).fit(x, y)
        for view, r, kept in (
            (x, est.n_components_x_, est.explained_variance_x_),
            (y, est.n_components_y_, None),
        ):
            lam = np.sort(np.linalg.eigvalsh(np.cov(view.T)))[::-1]
            cumulative = np.cumsum(lam) / lam.sum()
            assert cumulative[r - 1] >= fraction > (cumulative[r - 2] if r > 1 else 0.0)
            if kept is not None:
                assert kept == pytest.approx(cumulative[r - 1], abs=1e-12)
        assert est.n_components_ == min(est.n_components_x_, est.n_components_y_)
    assert SVCCA(0.5).fit(x, y).n_components_x_ < SVCCA(0.99).fit(x, y).n_components_x_


class ChunkOnly:
    """An array-like over a memmap that refuses reads of more than ``limit`` rows at once."""

    def __init__(self, array: np.ndarray, limit: int) -> None:
        self.array, self.limit, self.reads = array, limit, 0
        self.shape, self.dtype = array.shape, array.dtype

    def __getitem__(self, key):
        assert isinstance(key, slice) and key.stop - key.start <= self.limit, "read more than one chunk"
        self.reads += 1
        return self.array[key]


def test_fit_streams_float16_memmaps_and_matches_the_in_memory_float64_fit(tmp_path: Path):
    x, y = correlated_views(2000, 24, 8, seed=12)
    mx = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float16, shape=x.shape)
    my = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float16, shape=y.shape)
    mx[:], my[:] = x, y
    mx.flush(), my.flush()
    mx, my = np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    xs, ys = ChunkOnly(mx, 128), ChunkOnly(my, 128)
    streamed = PWCCA(chunk_rows=128).fit(xs, ys)
    assert xs.reads == 16  # ceil(2000 / 128): one pass
    in_memory = PWCCA().fit(np.asarray(mx, dtype=np.float64), np.asarray(my, dtype=np.float64))
    np.testing.assert_allclose(streamed.correlations_, in_memory.correlations_, atol=1e-10)
    np.testing.assert_allclose(streamed.x_projection_, in_memory.x_projection_, rtol=1e-7, atol=1e-9)
    held_x, held_y = np.asarray(mx[1500:], np.float64), np.asarray(my[1500:], np.float64)
    assert streamed.score(ChunkOnly(mx, 128), ChunkOnly(my, 128)) == pytest.approx(
        in_memory.score(np.asarray(mx, np.float64), np.asarray(my, np.float64)), abs=1e-10
    )
    assert streamed.score(held_x, held_y) == pytest.approx(in_memory.score(held_x, held_y), abs=1e-10)


def test_moments_match_numpy_and_add_over_groups():
    x, y = correlated_views(1000, 7, 5, seed=13)
    groups = np.random.default_rng(0).integers(0, 3, 1000)
    parts = accumulate_moments(x, y, groups, 3, chunk_rows=97, device="cpu")
    for g, m in enumerate(parts):
        rows = groups == g
        assert m.count == rows.sum()
        np.testing.assert_allclose(m.mean_x.numpy(), x[rows].mean(0), atol=1e-12)
        sxx, syy, sxy = m.scatter()
        np.testing.assert_allclose(sxx.numpy(), np.cov(x[rows].T) * (rows.sum() - 1), rtol=1e-10, atol=1e-9)
        joint = np.cov(x[rows].T, y[rows].T) * (rows.sum() - 1)
        np.testing.assert_allclose(sxy.numpy(), joint[:7, 7:], rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(syy.numpy(), joint[7:, 7:], rtol=1e-10, atol=1e-9)
    total: Moments = parts[0] + parts[1] + parts[2]
    np.testing.assert_allclose(total.covariances()[0].numpy(), np.cov(x.T), rtol=1e-10, atol=1e-10)


def test_svd_via_eigh_matches_svd_including_rank_deficient_matrices():
    rng = np.random.default_rng(14)
    for m in (
        rng.standard_normal((9, 6)),
        rng.standard_normal((5, 8)),
        rng.standard_normal((8, 2)) @ rng.standard_normal((2, 6)),
    ):
        t = torch.from_numpy(m)
        u, s, v = _svd_via_eigh(t)
        expected = np.linalg.svd(m, compute_uv=False)
        # zero singular values come out at the Gram's rounding level, sqrt(1e-16) * s_max
        np.testing.assert_allclose(s.numpy(), expected, atol=1e-7 * expected[0])
        k = s.shape[0]
        np.testing.assert_allclose((u.T @ u).numpy(), np.eye(k), atol=1e-10)
        np.testing.assert_allclose((v.T @ v).numpy(), np.eye(k), atol=1e-10)
        np.testing.assert_allclose((u.T @ t @ v).numpy(), np.diag(s.numpy()), atol=1e-9)


def test_estimator_conventions():
    est = SVCCA(variance_kept=0.9, epsilon_x=1e-9)
    assert est.get_params()["variance_kept"] == 0.9 and "epsilon_x=1e-09" in repr(est)
    assert not hasattr(est, "correlations_")  # __init__ only stores parameters
    x, y = correlated_views(500, 6, 4, seed=15)
    for unfitted in (PWCCA(), CCA()):
        with pytest.raises(NotFittedError):
            unfitted.transform(x)
        with pytest.raises(NotFittedError):
            unfitted.score(x, y)
    with pytest.raises(ValueError, match="same rows"):
        PWCCA().fit(x, y[:-1])
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        PWCCA().fit(bad, y)
    with pytest.raises(ValueError, match="epsilon_x"):
        CCA(epsilon_x=-1.0).fit(x, y)
    fitted = PWCCA().fit(x, y)
    assert fitted.fit(x, y) is fitted and fitted.x_projection_.dtype == np.float64
    with pytest.raises(ValueError, match="features"):
        fitted.score(x[:, :5], y)
