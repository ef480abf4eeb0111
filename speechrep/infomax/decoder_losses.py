"""Reconstruction losses of the latent decoders: waveform MSE, STFT, multi-resolution STFT, mel.

For a reconstruction ``ŷ`` of ``y`` (both ``(B, T)``):

- ``mse``: ``mean (ŷ - y)²`` on the waveform;
- ``stft``: ``mean (|STFT ŷ|² - |STFT y|²)²``, the MSE of power spectrograms at one resolution
  (SIM's ``SPECTRAL`` loss: Hann window, n_fft 1024, hop 256);
- ``multi_stft``: the multi-resolution STFT loss of Parallel WaveGAN (Yamamoto et al. 2020),
  averaged over resolutions ``(n_fft, hop)`` (window = n_fft):

      L_sc  = ‖ |Y| - |Ŷ| ‖_F / ‖ |Y| ‖_F,     L_mag = mean | log |Y| - log |Ŷ| |,

  with magnitudes floored at 1e-7;
- ``mel``: MSE of log-mel spectrograms in dB, ``10 log10(max(mel, 1e-10))`` (SIM's ``MEL`` loss
  with a usable time resolution: n_fft 1024, hop 256, 80 mels instead of n_fft 4096, hop 2048).

:class:`DecoderLoss` sums the terms with their weights; the returned dict holds ``loss`` and
every term with non-zero weight (unweighted), for logging.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio
from torch import Tensor, nn


@dataclass
class DecoderLossConfig:
    """Weights of the loss terms and their spectral settings (module docstring)."""

    mse: float = 1.0
    stft: float = 0.0
    multi_stft: float = 0.0
    mel: float = 0.0
    stft_n_fft: int = 1024
    stft_hop: int = 256
    resolutions: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))
    mel_n_fft: int = 1024
    mel_hop: int = 256
    n_mels: int = 80
    sample_rate: int = 16_000

    def __post_init__(self) -> None:
        self.resolutions = tuple((int(n), int(h)) for n, h in self.resolutions)
        weights = {"mse": self.mse, "stft": self.stft, "multi_stft": self.multi_stft, "mel": self.mel}
        if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
            raise ValueError(f"decoder loss weights must be non-negative with one positive, got {weights}")


def _magnitude(x: Tensor, n_fft: int, hop: int) -> Tensor:
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    return torch.stft(x, n_fft, hop, window=window, return_complex=True).abs()


def stft_power_mse(pred: Tensor, target: Tensor, n_fft: int = 1024, hop: int = 256) -> Tensor:
    """MSE between power spectrograms at one resolution."""
    return (_magnitude(pred, n_fft, hop).pow(2) - _magnitude(target, n_fft, hop).pow(2)).pow(2).mean()


def multi_resolution_stft(pred: Tensor, target: Tensor, resolutions: tuple[tuple[int, int], ...]) -> Tensor:
    """Spectral convergence + log-magnitude L1, averaged over resolutions (Yamamoto et al. 2020)."""
    total = pred.new_zeros(())
    for n_fft, hop in resolutions:
        p = _magnitude(pred, n_fft, hop).clamp_min(1e-7)
        t = _magnitude(target, n_fft, hop).clamp_min(1e-7)
        convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t)
        total = total + convergence + (t.log() - p.log()).abs().mean()
    return total / len(resolutions)


class DecoderLoss(nn.Module):
    """The weighted sum of :class:`DecoderLossConfig`'s terms."""

    def __init__(self, config: DecoderLossConfig | None = None) -> None:
        super().__init__()
        self.config = config or DecoderLossConfig()
        c = self.config
        banks = torchaudio.functional.melscale_fbanks(
            c.mel_n_fft // 2 + 1, 0.0, c.sample_rate / 2, c.n_mels, c.sample_rate
        )
        self.register_buffer("mel_banks", banks, persistent=False)  # (freqs, mels); not a weight

    def _mel_db(self, x: Tensor) -> Tensor:
        power = _magnitude(x, self.config.mel_n_fft, self.config.mel_hop).pow(2)  # (B, freqs, frames)
        mel = torch.einsum("bft,fm->bmt", power, self.mel_banks)
        return 10.0 * torch.log10(mel.clamp_min(1e-10))

    def forward(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        if pred.shape != target.shape:
            raise ValueError(
                f"reconstruction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape"
            )
        c = self.config
        terms: dict[str, Tensor] = {}
        if c.mse:
            terms["mse"] = (pred - target).pow(2).mean()
        if c.stft:
            terms["stft"] = stft_power_mse(pred, target, c.stft_n_fft, c.stft_hop)
        if c.multi_stft:
            terms["multi_stft"] = multi_resolution_stft(pred, target, c.resolutions)
        if c.mel:
            terms["mel"] = (self._mel_db(pred) - self._mel_db(target)).pow(2).mean()
        loss = sum(getattr(c, name) * value for name, value in terms.items())
        return {"loss": loss, **{name: value.detach() for name, value in terms.items()}}
