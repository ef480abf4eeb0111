"""Decomposition models: NoC components low → high, padding flags, tones apart, reconstruction, batching."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from speechrep.decvae.decomposition import (
    Decomposition,
    EMDDecomposition,
    EWTDecomposition,
    FilterDecomposition,
    VMDDecomposition,
    quality,
)
from speechrep.decvae.decomposition.base import RawComponents

SR = 16_000
METHODS = {
    "filter": lambda c, **kw: FilterDecomposition(c, device="cpu", **kw),
    "ewt": lambda c, **kw: EWTDecomposition(c, device="cpu", **kw),
    "vmd": lambda c, **kw: VMDDecomposition(c, alpha=2000, init=1, tol=1e-7, device="cpu", **kw),
    "emd": lambda c, **kw: EMDDecomposition(c, device="cpu", **kw),
}


def tones(n: int, freqs=(300.0, 1500.0, 4000.0), seed: int = 0) -> np.ndarray:
    """``(len(freqs), n)`` unit sinusoids with random phases."""
    t = np.arange(n) / SR
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(freqs))
    return np.stack([np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases)])


def vowel_frames(count: int, n: int = 400, seed: int = 0) -> np.ndarray:
    """SimVowels-like frames (DecVAE spec §1): noise through three formant band-passes (F ± 100 Hz),
    convolved with broadband noise excitation, peak-normalised, plus white noise at 15 dB SNR."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    length = max(1600, n)
    frames = []
    for _ in range(count):
        white = rng.standard_normal(length)
        tract = np.zeros(length)
        for formant, gain in zip(rng.uniform([400, 1100, 2300], [800, 1900, 3000]), (1.0, 0.5, 0.3)):
            sos = scipy.signal.butter(4, [formant - 100, formant + 100], "bandpass", fs=SR, output="sos")
            tract += gain * scipy.signal.sosfilt(sos, white)
        sos = scipy.signal.butter(4, [65, 7900], "bandpass", fs=SR, output="sos")
        excitation = scipy.signal.sosfilt(sos, rng.standard_normal(length))
        nfft = 2 ** int(np.ceil(np.log2(length)))
        x = np.fft.irfft(np.fft.rfft(tract, nfft) * np.fft.rfft(excitation, nfft), nfft)[:length]
        x /= np.abs(x).max()
        x += rng.standard_normal(length) * np.sqrt(np.mean(x**2) / 10**1.5)
        start = (length - n) // 2
        frames.append(x[start : start + n])
    return np.stack(frames)


# -- the shared contract -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(METHODS))
def test_exactly_noc_components_ascending_with_padding_flagged(method):
    frames = vowel_frames(5)
    for count in (2, 3, 5):
        out = METHODS[method](count)(frames)
        assert out.components.shape == (5, count, 400)
        assert out.padded.shape == (5, count) and out.padded.dtype == torch.bool
        assert out.residue.shape == (5, 400)
        for b in range(5):
            present = ~out.padded[b]
            centres = out.centre_hz[b][present]
            assert torch.all(torch.diff(centres) > 0), (method, count, out.centre_hz[b])
            assert torch.all(out.components[b][out.padded[b]] == 0)
            assert torch.isnan(out.centre_hz[b][out.padded[b]]).all()
            assert bool(present.any())


@pytest.mark.parametrize("method", sorted(METHODS))
def test_three_tones_land_in_their_own_component(method):
    parts = tones(1600)  # 0.1 s: one SimVowels segment
    out = METHODS[method](3)(parts.sum(0))
    assert not out.padded.any()
    comps = out.components[0].numpy()
    corr = np.array([[np.corrcoef(c, p)[0, 1] for p in parts] for c in comps])
    assert np.all(np.diag(corr) > 0.95), (method, corr.round(3))
    np.testing.assert_allclose(out.centre_hz[0].numpy(), [300, 1500, 4000], rtol=0.08)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_odd_lengths_keep_every_sample(method):
    frames = vowel_frames(2, n=401)
    out = METHODS[method](3)(frames)
    assert out.components.shape == (2, 3, 401)
    report = quality(frames, out.components.numpy(), out.padded.numpy(), out.residue.numpy())
    assert report.nrmse_with_residue < 0.12, report


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_batch_gives_the_per_frame_results(method):
    frames = vowel_frames(4, seed=3)
    model = METHODS[method](3)
    batched = model(frames)
    for b, frame in enumerate(frames):
        single = model(frame)
        torch.testing.assert_close(single.components[0], batched.components[b], rtol=0, atol=1e-10)
        assert torch.equal(single.padded[0], batched.padded[b])


def test_vmd_random_init_is_seeded_per_signal_not_per_batch():
    frames = vowel_frames(3, seed=5)
    model = VMDDecomposition(3, init=2, tol=1e-7, seed=7, device="cpu")
    batched = model(frames)
    torch.testing.assert_close(model(frames[2]).components[0], batched.components[2], rtol=0, atol=1e-10)
    other_seed = VMDDecomposition(3, init=2, tol=1e-7, seed=8, device="cpu")(frames[2])
    assert not torch.allclose(other_seed.components[0], batched.components[2], atol=1e-6)


def test_reconstruction_within_the_reference_tolerances():
    """DecVAE spec §9: NRMSE of Σ components (EMD: + residue) below .12 / .03 / .06 / 1e-6."""
    frames = vowel_frames(8, seed=1)
    limits = {"filter": 0.12, "ewt": 0.03, "vmd": 0.06}
    models = {**METHODS, "vmd": lambda c: VMDDecomposition(c, device="cpu")}  # the reference's VMD settings
    for method, limit in limits.items():
        out = models[method](3)(frames)
        report = quality(frames, out.components.numpy(), out.padded.numpy(), out.residue.numpy())
        key = "nrmse_with_residue" if method == "ewt" else "nrmse"
        assert getattr(report, key) < limit, (method, report)
    out = METHODS["emd"](3)(frames)
    np.testing.assert_allclose(out.components.sum(1) + out.residue, frames, rtol=0, atol=1e-10)


def test_emd_with_residue_reconstructs_exactly_when_imfs_are_grouped():
    rng = np.random.default_rng(2)
    signal = np.cumsum(rng.standard_normal(800)) * 0.05 + vowel_frames(1, n=800)[0]
    model = EMDDecomposition(2, max_imf=-1, device="cpu")
    out = model(signal)
    assert out.components.shape == (1, 2, 800) and not out.padded.any()
    raw = model._candidates(torch.as_tensor(signal[None]))
    assert int(raw.valid.sum()) > 2  # more IMFs than slots: they were grouped
    np.testing.assert_allclose((out.components.sum(1) + out.residue)[0], signal, rtol=0, atol=1e-10)


def test_ewt_modes_and_residue_telescope_to_the_signal():
    frames = vowel_frames(3, n=333)
    out = METHODS["ewt"](4)(frames)
    np.testing.assert_allclose(out.components.sum(1) + out.residue, frames, rtol=0, atol=1e-10)


# -- the shared grouping and padding rules, on known candidates ---------------------------------------
class Given(Decomposition):
    """Returns fixed candidates, to test the shared post-processing alone."""

    name = "given"

    def __init__(self, candidates: np.ndarray, n_components: int, **kwargs: Any) -> None:
        super().__init__(n_components, device="cpu", **kwargs)
        self.candidates = torch.as_tensor(candidates)[None]

    def _settings(self) -> dict[str, Any]:
        return {}

    def _candidates(self, x: torch.Tensor) -> RawComponents:
        valid = torch.ones(self.candidates.shape[:2], dtype=torch.bool)
        return RawComponents(self.candidates.to(x.dtype), valid)


def which_tones(out, parts: np.ndarray) -> list[set[int]]:
    """For each slot, the tones it holds (correlation of the slot with the tone > 0.3)."""
    slots = []
    for c in out.components[0].numpy():
        if not c.any():
            slots.append(set())
            continue
        slots.append({i for i, p in enumerate(parts) if np.corrcoef(c, p)[0, 1] > 0.3})
    return slots


def test_grouping_rules_sum_contiguous_runs_in_frequency_order():
    parts = tones(1600, (200.0, 700.0, 1500.0, 2600.0, 5000.0))
    shuffled = parts[[3, 0, 4, 2, 1]]  # methods need not produce candidates in order
    x = parts.sum(0)
    expected = {
        "equally_distribute": [{0, 1}, {2, 3}, {4}],
        "low_freqs_first": [{0}, {1}, {2, 3, 4}],
        "high_freqs_first": [{0, 1, 2}, {3}, {4}],
    }
    for grouping, slots in expected.items():
        out = Given(shuffled, 3, grouping=grouping)(x)
        assert which_tones(out, parts) == slots, grouping
        np.testing.assert_allclose(out.components.sum(1)[0], x, atol=1e-12)


def test_padding_by_frequency_group_or_appended():
    parts = tones(1600, (300.0, 1600.0, 4000.0))
    x = parts.sum(0)
    by_group = Given(parts, 5, padding="frequency_groups")(x)  # 750-Hz groups 0, 2, 5 → slots 0, 2, 4
    assert by_group.padded[0].tolist() == [False, True, False, True, False]
    appended = Given(parts, 5, padding="append")(x)
    assert appended.padded[0].tolist() == [False, False, False, True, True]
    crowded = Given(tones(1600, (100.0, 200.0, 300.0)), 4, padding="frequency_groups")(x)
    assert crowded.padded[0].tolist() == [False, False, False, True]  # all in group 0: pushed up in order


def test_low_power_candidates_move_to_the_residue():
    parts = tones(1600, (300.0, 1500.0))
    parts[1] *= 1e-3  # power ratio 1e-6 of the total
    out = Given(parts, 2, min_power_ratio=1e-4)(parts.sum(0))
    assert out.padded[0].tolist() == [False, True]
    np.testing.assert_allclose(out.residue[0], parts[1], atol=1e-12)


def test_invalid_settings_fail_early():
    with pytest.raises(ValueError, match="grouping"):
        FilterDecomposition(3, grouping="biggest_first")
    with pytest.raises(ValueError, match="padding"):
        FilterDecomposition(3, padding="random")
    with pytest.raises(ValueError, match="init"):
        VMDDecomposition(3, init=3)
    with pytest.raises(ValueError, match="NaN"):
        FilterDecomposition(3, device="cpu")(np.array([0.0, np.nan, 1.0]))


# -- quality measures by hand -------------------------------------------------------------------------
def test_quality_measures_on_hand_made_components():
    a = np.sin(np.linspace(0, 20 * np.pi, 1000))
    b = np.cos(np.linspace(0, 20 * np.pi, 1000))
    orthogonal = quality((a + b)[None], np.stack([a, b])[None], np.zeros((1, 2), bool), np.zeros((1, 1000)))
    assert orthogonal.nrmse < 1e-12 and abs(orthogonal.orthogonality_index) < 1e-3
    duplicated = quality((2 * a)[None], np.stack([a, a])[None], np.zeros((1, 2), bool), np.zeros((1, 1000)))
    assert duplicated.orthogonality_index == pytest.approx(0.5)  # 2Σa² / Σ(2a)²
    assert duplicated.mean_abs_correlation == pytest.approx(1.0)
    half = quality((2 * a)[None], np.stack([a, np.zeros(1000)])[None], np.array([[False, True]]), a[None])
    assert half.nrmse == pytest.approx(np.sqrt(np.mean(a**2)) / np.ptp(2 * a))
    assert half.nrmse_with_residue < 1e-12 and half.padded_fraction == 0.5
