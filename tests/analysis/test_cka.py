"""Linear CKA: identity, invariances, bias on independent views, Gram-matrix parity, streaming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ortho_group

from speechrep.analysis.cka import CKAStatistics, LayerStatistics, cka_matrix, linear_cka


def naive_cka(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """CKA from the n×n kernels: tr(KHLH) for the biased form, Song et al.'s U-statistic otherwise."""

    def hsic(k: np.ndarray, l: np.ndarray) -> float:
        n = len(k)
        if not debiased:
            h = np.eye(n) - np.ones((n, n)) / n
            return float(np.trace(k @ h @ l @ h))
        k, l = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
        one = np.ones(n)
        value = (
            np.trace(k @ l)
            + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (one @ k @ l @ one)
        )
        return float(value / (n * (n - 3)))

    k, l = x @ x.T, y @ y.T
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


def correlated_views(n: int, seed: int, p: int = 6, q: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) + rng.standard_normal(p)
    y = x @ rng.standard_normal((p, q)) + 0.8 * rng.standard_normal((n, q)) + 3.0
    return x, y


@pytest.mark.parametrize("debiased", [False, True])
def test_identical_views_score_one(debiased: bool):
    x = np.random.default_rng(0).standard_normal((300, 12))
    assert linear_cka(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, x.copy(), debiased=debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_invariant_to_orthogonal_maps_isotropic_scaling_and_translation(debiased: bool):
    x, y = correlated_views(400, seed=1, p=8, q=5)
    reference = linear_cka(x, y, debiased=debiased)
    rotation = ortho_group.rvs(8, random_state=2)
    assert linear_cka(x @ rotation, y, debiased=debiased) == pytest.approx(reference, abs=1e-10)
    assert linear_cka(x, 7.5 * y, debiased=debiased) == pytest.approx(reference, abs=1e-10)
    # a large common offset (like the outlier dimensions of wav2vec2 layers) changes nothing
    assert linear_cka(x + 1e4, y - 3e3, debiased=debiased) == pytest.approx(reference, abs=1e-9)
    assert linear_cka(y, x, debiased=debiased) == pytest.approx(reference, abs=1e-12)


def test_debiased_cka_of_independent_views_is_near_zero_while_biased_is_inflated():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2000, 200)), rng.standard_normal((2000, 200))
    debiased = linear_cka(x, y, debiased=True)
    biased = linear_cka(x, y, debiased=False)
    assert abs(debiased) < 0.02
    assert biased > 0.05


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_space_form_equals_gram_matrix_formula(debiased: bool, seed: int):
    x, y = correlated_views(40, seed=seed)
    assert linear_cka(x, y, debiased=debiased) == pytest.approx(naive_cka(x, y, debiased), abs=1e-10)
    # p > n as well (the regime where the biased form misleads most)
    rng = np.random.default_rng(seed + 10)
    x, y = rng.standard_normal((12, 30)), rng.standard_normal((12, 25))
    assert linear_cka(x, y, debiased=debiased) == pytest.approx(naive_cka(x, y, debiased), abs=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_chunked_equals_one_shot_and_float16_memmaps_stream(tmp_path: Path, debiased: bool):
    x, y = correlated_views(600, seed=4, p=16, q=10)
    whole = linear_cka(x, y, debiased=debiased, chunk_rows=len(x))
    for chunk_rows in (7, 333):
        assert linear_cka(x, y, debiased=debiased, chunk_rows=chunk_rows) == pytest.approx(whole, abs=1e-12)
    head = linear_cka(x[:40], y[:40], debiased=debiased)
    assert linear_cka(x[:40], y[:40], debiased=debiased, chunk_rows=1) == pytest.approx(head, abs=1e-12)

    stats = CKAStatistics()
    for start in range(0, 600, 250):
        stats.update(x[start : start + 250], y[start : start + 250])
    assert stats.cka(debiased) == pytest.approx(whole, abs=1e-12)

    np.save(tmp_path / "x.npy", x.astype(np.float16))
    np.save(tmp_path / "y.npy", y.astype(np.float16))
    x16, y16 = np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    streamed = linear_cka(x16, y16, debiased=debiased, chunk_rows=256)
    exact16 = naive_cka(np.asarray(x16, np.float64), np.asarray(y16, np.float64), debiased)
    assert streamed == pytest.approx(exact16, abs=1e-10)


def test_cka_matrix_within_and_across_upstreams():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((500, 10))
    layers_a = {
        f"layer.{k}": base @ rng.standard_normal((10, 10)) + 0.5 * k * rng.standard_normal((500, 10))
        for k in range(3)
    }
    layers_b = {"mel": rng.standard_normal((500, 6)), "cnn": base[:, :6] * 2.0}

    names, same, within = cka_matrix(layers_a)
    assert names == same == ["layer.0", "layer.1", "layer.2"]
    np.testing.assert_allclose(np.diag(within), 1.0, atol=1e-12)
    np.testing.assert_allclose(within, within.T, atol=0)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            assert within[i, j] == pytest.approx(linear_cka(layers_a[a], layers_a[b]), abs=1e-12)

    names_a, names_b, across = cka_matrix(layers_a, layers_b, debiased=False, chunk_rows=64)
    assert (names_a, names_b) == (names, ["mel", "cnn"]) and across.shape == (3, 2)
    for i, a in enumerate(names_a):
        for j, b in enumerate(names_b):
            expected = linear_cka(layers_a[a], layers_b[b], debiased=False)
            assert across[i, j] == pytest.approx(expected, abs=1e-12)
    assert across[0, 1] > across[0, 0]

    with pytest.raises(ValueError, match="same rows"):
        cka_matrix(layers_a, {"short": base[:100]})


def test_misuse_is_reported():
    x, y = correlated_views(50, seed=6)
    with pytest.raises(ValueError, match="same rows"):
        linear_cka(x, y[:40])
    with pytest.raises(ValueError, match="constant"):
        linear_cka(np.ones((50, 3)), y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        linear_cka(np.where(x > 2, np.inf, x), y)
    with pytest.raises(ValueError, match="at least 4 rows"):
        linear_cka(x[:3], y[:3], debiased=True)
    # view statistics built from other rows than the paired chunks
    view = LayerStatistics.from_array(x[:30])
    stats = CKAStatistics(view).update(x, y)
    with pytest.raises(ValueError, match="row counts differ"):
        stats.cka()
