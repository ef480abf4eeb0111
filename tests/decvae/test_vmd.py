"""Our torch VMD against vmdpy (the reference's library) for the same settings and initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechrep.decvae.decomposition import vmd

vmdpy = pytest.importorskip("vmdpy")

SR = 16_000


def signal(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    freqs = rng.uniform([150, 900, 2200], [600, 1800, 5000])
    x = sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in zip((1, 0.7, 0.5), freqs, rng.uniform(0, 6, 3)))
    return x + 0.2 * rng.standard_normal(n)


def assert_modes_agree(ours: np.ndarray, theirs: np.ndarray, limit: float = 0.99) -> None:
    for k, (mine, ref) in enumerate(zip(ours, theirs)):
        assert np.corrcoef(mine, ref)[0, 1] >= limit, k


@pytest.mark.parametrize(
    ("n", "k", "alpha", "tau", "dc", "init"),
    [
        (400, 4, 2000, 0.0, False, 1),
        (1600, 3, 1500, 0.0, False, 1),
        (800, 3, 2000, 0.1, True, 1),
        (400, 3, 2000, 0.0, False, 0),
    ],
)
def test_modes_agree_with_vmdpy(n, k, alpha, tau, dc, init):
    for seed in range(3):
        x = signal(n, seed)
        ref_modes, _, ref_omega = vmdpy.VMD(x, alpha, tau, k, dc, init, 1e-7)
        sweeps = len(ref_omega)  # vmdpy returns the iterate before its last sweep
        same_iterate = vmd(x, alpha, tau, k, dc=dc, init=init, tol=1e-7, max_iter=sweeps)
        assert same_iterate.modes.shape == (1, k, n)
        assert_modes_agree(same_iterate.modes[0].numpy(), ref_modes, limit=0.9995)
        ours = vmd(x, alpha, tau, k, dc=dc, init=init, tol=1e-7)
        if sweeps < 499:  # vmdpy converged: so do we, at the same sweep, to the same modes
            assert int(ours.iterations[0]) == sweeps
            assert_modes_agree(ours.modes[0].numpy(), ref_modes)
            np.testing.assert_allclose(ours.omega[0].numpy(), ref_omega[-1], rtol=1e-3, atol=1e-4)


def test_random_init_draws_like_vmdpy():
    x = signal(400, 7)
    np.random.seed(11)  # noqa: NPY002 (vmdpy draws from the legacy global generator)
    ref_modes, _, ref_omega = vmdpy.VMD(x, 2000, 0.0, 3, False, 2, 1e-7)
    np.random.seed(11)  # noqa: NPY002
    low = np.log(1 / len(x))
    start = np.sort(np.exp(low + (np.log(0.5) - low) * np.random.rand(1, 3)))  # noqa: NPY002
    np.testing.assert_allclose(start[0], ref_omega[0])
    ours = vmd(x, 2000, 0.0, 3, init=start[0], tol=1e-7)
    assert_modes_agree(ours.modes[0].numpy(), ref_modes)


def test_odd_length_keeps_the_last_sample():
    x = signal(401, 1)
    ours = vmd(x, 2000, 0.0, 3, init=1, tol=1e-7)
    assert ours.modes.shape == (1, 3, 401)
    ref_modes, _, _ = vmdpy.VMD(x, 2000, 0.0, 3, False, 1, 1e-7)  # vmdpy drops the last sample
    assert ref_modes.shape == (3, 400)
    assert_modes_agree(ours.modes[0, :, :400].numpy(), ref_modes)

    def nrmse(modes: torch.Tensor, signal: np.ndarray) -> float:
        return float(np.sqrt(np.mean((modes.sum(0).numpy() - signal) ** 2)) / np.ptp(signal))

    even = vmd(x[:400], 2000, 0.0, 3, init=1, tol=1e-7)
    assert nrmse(ours.modes[0], x) < nrmse(even.modes[0], x[:400]) + 0.005  # the extra sample is no worse


def test_batch_equals_signals_one_by_one_and_float32_is_close():
    batch = np.stack([signal(400, s) for s in range(5)])
    together = vmd(batch, 2000, 0.0, 3, init=1, tol=1e-7)
    assert len(set(together.iterations.tolist())) > 1  # rows stopped at different sweeps
    for b, x in enumerate(batch):
        alone = vmd(x, 2000, 0.0, 3, init=1, tol=1e-7)
        torch.testing.assert_close(alone.modes[0], together.modes[b], rtol=0, atol=1e-12)
        assert int(alone.iterations[0]) == int(together.iterations[b])
    single = vmd(batch, 2000, 0.0, 3, init=1, tol=1e-7, dtype=torch.float32)
    assert single.modes.dtype == torch.float32
    for b in range(len(batch)):
        assert_modes_agree(single.modes[b].numpy(), together.modes[b].numpy())


def test_silent_signal_gives_zero_modes_without_nan():
    out = vmd(np.zeros(400), 2000, 0.0, 3, init=1)
    assert torch.all(out.modes == 0) and torch.isfinite(out.omega).all()
