"""Empirical wavelet transform (Gilles, IEEE Trans. Signal Process. 61(16), 2013), batched in torch.

Boundaries: the magnitude spectrum ``|X(ω)|`` of each signal is smoothed with a Gaussian kernel and
its ``C`` largest local maxima ``m_1 < … < m_C`` are kept ("locmax" detection). The boundaries lie
half-way: ``ω_1 = m_1 / 2`` and ``ω_n = (m_{n−1} + m_n) / 2``, so band ``[ω_n, ω_{n+1}]`` holds
peak ``m_n`` and ``[0, ω_1]`` holds whatever lies below the first peak.

Filters (Meyer type, Gilles 2013 eqs. 6–7): with ``β(u) = u⁴(35 − 84u + 70u² − 20u³)`` and a
transition half-width ``γω_n`` around each boundary, the smooth low-pass

    L_n(ω) = cos²(π/2 · β((|ω| − (1 − γ)ω_n) / (2γω_n)))    (1 below, 0 above the transition)

is the squared scaling function of ``ω_n``, and the squared wavelet of band ``n`` is
``ψ_n² = L_{n+1} − L_n`` (``cos² + sin² = 1`` turns Gilles' piecewise definition into this
difference when ``γ < min (ω_{n+1} − ω_n)/(ω_{n+1} + ω_n)``). The mode of band ``n`` is the inverse
transform of ``X · ψ_n²`` (analysis then synthesis, Gilles 2013 eq. 10), so the modes telescope to
``x`` exactly. Like ``ewtpy`` (the reference's library), the signal is mirror-extended to twice its
length before filtering, which tames the edges of short frames.

The component ``[0, ω_1]`` below the first peak is not a component here but the residue (the
reference discards it); ``components.sum(1) + residue`` reconstructs ``x`` to rounding error.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from speechrep.decvae.decomposition.base import Decomposition, RawComponents


def meyer_lowpass(omega: Tensor, boundary: Tensor, gamma: Tensor) -> Tensor:
    """Squared Meyer scaling function ``L(ω)`` for boundaries ``boundary`` (broadcast against ``omega``).

    ``boundary = 0`` gives 0 everywhere and ``boundary = inf`` gives 1 everywhere (the open ends).
    """
    width = 2.0 * gamma * boundary
    u = ((omega - (1.0 - gamma) * boundary) / width.clamp_min(1e-30)).clamp(0.0, 1.0)
    beta = u**4 * (35.0 - 84.0 * u + 70.0 * u**2 - 20.0 * u**3)
    low = torch.cos(0.5 * math.pi * beta).square()
    low = torch.where(boundary == 0, torch.zeros_like(low), low)
    return torch.where(torch.isinf(boundary), torch.ones_like(low), low)


class EWTDecomposition(Decomposition):
    """Empirical wavelet transform with boundaries from the spectrum's largest maxima.

    Args:
        smooth_length: length of the Gaussian kernel that regularises the spectrum (ewtpy's
            ``lengthFilter``; 0 or 1 disables smoothing).
        smooth_sigma: its standard deviation in bins (ewtpy's ``sigmaFilter``).
        gamma_safety: ``γ`` is this fraction of Gilles' bound ``min (ω_{n+1} − ω_n)/(ω_{n+1} + ω_n)``
            (at most 1), so that neighbouring transitions never overlap.
        **kwargs: see :class:`~speechrep.decvae.decomposition.base.Decomposition`.
    """

    name = "ewt"

    def __init__(
        self,
        n_components: int,
        smooth_length: int = 10,
        smooth_sigma: float = 2.0,
        gamma_safety: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(n_components, **kwargs)
        if not 0 < gamma_safety <= 1:
            raise ValueError(f"gamma_safety must be in (0, 1], got {gamma_safety}")
        self.smooth_length = int(smooth_length)
        self.smooth_sigma = float(smooth_sigma)
        self.gamma_safety = float(gamma_safety)

    def _settings(self) -> dict[str, Any]:
        return {
            "smooth_length": self.smooth_length,
            "smooth_sigma": self.smooth_sigma,
            "gamma_safety": self.gamma_safety,
        }

    def _candidates(self, x: Tensor) -> RawComponents:
        n = x.shape[-1]
        peaks = self._peaks(torch.fft.rfft(x, dim=-1).abs(), n)  # (B, C) in rad/sample, NaN if missing
        valid = ~torch.isnan(peaks)
        # Missing peaks sit at +inf so they sort last and give empty bands [ω_C, ∞) ∖ [∞, ∞).
        peaks = torch.where(valid, peaks, math.inf).sort(-1).values
        previous = torch.cat([torch.zeros_like(peaks[:, :1]), peaks[:, :-1]], -1)
        boundaries = torch.where(torch.isinf(peaks), math.inf, 0.5 * (previous + peaks))  # ω_1 … ω_C
        gamma = self._gamma(boundaries)
        left = n // 2
        extended = torch.cat([x[:, :left].flip(-1), x, x[:, left:].flip(-1)], -1)
        spectrum = torch.fft.rfft(extended, dim=-1)
        omega = torch.linspace(0, math.pi, spectrum.shape[-1], device=x.device, dtype=x.dtype)
        edges = torch.cat([boundaries, torch.full_like(boundaries[:, :1], math.inf)], -1)  # ω_1 … ω_C, ∞
        lows = meyer_lowpass(omega, edges[..., None], gamma[:, None, None])  # (B, C + 1, F)
        bands = torch.diff(lows, dim=1)  # ψ_n² = L_{n+1} − L_n, (B, C, F)
        modes = torch.fft.irfft(spectrum[:, None] * bands, n=2 * n, dim=-1)[..., left : left + n]
        residue = torch.fft.irfft(spectrum * lows[:, 0], n=2 * n, dim=-1)[..., left : left + n]
        return RawComponents(modes, valid.sort(-1, descending=True).values, residue)

    def _peaks(self, magnitude: Tensor, n: int) -> Tensor:
        """The ``C`` largest local maxima of the smoothed spectrum, in rad/sample (NaN when fewer)."""
        if self.smooth_length > 1:
            taps = torch.arange(self.smooth_length, dtype=magnitude.dtype, device=magnitude.device)
            kernel = torch.exp(-0.5 * ((taps - (self.smooth_length - 1) / 2) / self.smooth_sigma) ** 2)
            kernel = (kernel / kernel.sum()).flip(0)[None, None]
            padded = torch.nn.functional.pad(
                magnitude[:, None], (self.smooth_length // 2, (self.smooth_length - 1) // 2), mode="replicate"
            )
            magnitude = torch.nn.functional.conv1d(padded, kernel)[:, 0]
        inner = magnitude[:, 1:-1]
        is_max = (inner > magnitude[:, :-2]) & (inner >= magnitude[:, 2:])
        scores = torch.where(is_max, inner, -math.inf)
        k = min(self.n_components, scores.shape[-1])
        top = scores.topk(k, dim=-1)
        radians = (top.indices.to(magnitude.dtype) + 1.0) * (2.0 * math.pi / n)  # rfft bin j: 2πj/n
        out = torch.where(torch.isinf(top.values), math.nan, radians)
        if k < self.n_components:
            out = torch.cat([out, out.new_full((out.shape[0], self.n_components - k), math.nan)], -1)
        return out

    def _gamma(self, boundaries: Tensor) -> Tensor:
        """Per signal: ``γ`` below Gilles' bound over consecutive finite boundaries and π."""
        ends = torch.cat([boundaries, torch.full_like(boundaries[:, :1], math.pi)], -1)
        ends = torch.where(torch.isinf(ends), math.pi, ends)
        low, high = ends[:, :-1], ends[:, 1:]
        ratio = torch.where(high > low, (high - low) / (high + low), math.inf)
        return (self.gamma_safety * ratio.min(-1).values.clamp(max=1.0)).clamp_min(1e-6)
