"""The log-mel spectrogram baseline of layer-wise analysis, as an Upstream with two layers.

Settings follow the layer-wise analysis reference (Pasad et al., ``extract_fbank.py``), in order:

1. peak-normalise the waveform to 0.999;
2. pre-emphasis ``y[n] = x[n] - 0.97 x[n-1]`` (zero initial state, so ``y[0] = x[0]``);
3. ``librosa.feature.melspectrogram``: n_fft 2048, 400-sample Hann window (25 ms), hop 160
   (10 ms), 80 mel bands from 50 Hz to Nyquist, magnitude (power 1), ``center=True`` with zero
   padding: frame ``j`` is centred on sample ``160 j``, so ``T = 1 + len // 160``;
4. ``librosa.amplitude_to_db(ref=1.0, top_db=80)``, then ``/ 80 + 1``.

Layers: ``mel`` is ``(T, 80)`` at 10 ms; ``mel.20ms`` keeps every other frame (``mel[::2]``,
subsampled, not averaged, as the reference does for comparison with 20 ms model layers).

Value range: the last step maps ``[max_dB - 80, max_dB]`` onto ``[v - 1, v]`` with
``v = 1 + max_dB / 80``; every utterance therefore spans at most 1.0, and for typical speech
(mel magnitudes peaking near 1) the values lie close to ``[0, 1]``, but they are not clipped:
a loud narrow-band signal gives values above 1, a quiet or click-like one values below 0. This
matches the reference exactly; CCA and probes are insensitive to the offset.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import librosa
import numpy as np
import scipy.signal
import torch
from torch import Tensor

from speechrep.upstream.base import Upstream, UpstreamOutput, WaveInput, as_waveforms, check_layers

MEL_LAYER = "mel"
MEL_20MS_LAYER = "mel.20ms"


@dataclass(frozen=True)
class MelSettings:
    """Every setting of the log-mel pipeline (defaults: the layer-wise analysis reference)."""

    sample_rate: int = 16_000
    peak: float = 0.999
    preemphasis: float = 0.97
    n_fft: int = 2048
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 80
    fmin: float = 50.0
    fmax: float | None = None
    pad_mode: str = "constant"
    top_db: float = 80.0

    def __post_init__(self) -> None:
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length {self.win_length} exceeds n_fft {self.n_fft}")
        if self.hop_length <= 0 or self.n_mels <= 0 or self.top_db <= 0:
            raise ValueError("hop_length, n_mels and top_db must be positive")


def log_mel(wave: np.ndarray, settings: MelSettings | None = None) -> np.ndarray:
    """The scaled log-mel spectrogram of one waveform, ``(1 + len // hop, n_mels)`` float32.

    Raises ValueError for a silent (all-zero) waveform, which has no peak to normalise to.
    """
    settings = settings or MelSettings()
    wave = np.asarray(wave, dtype=np.float32)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak == 0.0:
        raise ValueError("the waveform is silent (all zeros): a log-mel spectrogram needs a non-zero peak")
    wave = wave / peak * settings.peak
    emphasised = scipy.signal.lfilter([1.0, -settings.preemphasis], [1.0], wave)
    with warnings.catch_warnings():
        # utterances shorter than n_fft (0.128 s) are fine: center=True pads them; librosa warns anyway
        warnings.filterwarnings("ignore", message="n_fft=.* is too large for input signal")
        mel = _melspectrogram(emphasised, settings)
    scaled = librosa.amplitude_to_db(mel, ref=1.0, top_db=settings.top_db) / settings.top_db + 1.0
    return np.ascontiguousarray(scaled.T, dtype=np.float32)


def _melspectrogram(emphasised: np.ndarray, settings: MelSettings) -> np.ndarray:
    return librosa.feature.melspectrogram(
        y=emphasised,
        sr=settings.sample_rate,
        n_fft=settings.n_fft,
        hop_length=settings.hop_length,
        win_length=settings.win_length,
        n_mels=settings.n_mels,
        fmin=settings.fmin,
        fmax=settings.fmax,
        power=1.0,
        center=True,
        pad_mode=settings.pad_mode,
    )


class MelUpstream(Upstream):
    """Log-mel features as layers ``mel`` (10 ms) and ``mel.20ms`` (every other frame).

    Args:
        settings: the pipeline settings (defaults reproduce the reference).
        device: where to put the output tensors; features are computed on the CPU with librosa.
    """

    def __init__(self, settings: MelSettings | None = None, device: str | torch.device | None = None) -> None:
        super().__init__()
        self.settings = settings or MelSettings()
        self.name = "mel"
        self.sample_rate = self.settings.sample_rate
        self.layer_names = [MEL_LAYER, MEL_20MS_LAYER]
        self._device = torch.device(device) if device is not None else torch.device("cpu")

    def _stride(self, layer: str) -> int:
        check_layers(self, [layer])
        return 2 if layer == MEL_20MS_LAYER else 1

    def hop_length(self, layer: str) -> int:
        return self.settings.hop_length * self._stride(layer)

    def receptive_field(self, layer: str) -> int:
        self._stride(layer)
        return self.settings.win_length

    def num_frames(self, layer: str, num_samples: int) -> int:
        frames = 1 + int(num_samples) // self.settings.hop_length
        stride = self._stride(layer)
        return (frames + stride - 1) // stride

    def feature_dim(self, layer: str) -> int:
        self._stride(layer)
        return self.settings.n_mels

    def fingerprint(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "name": self.name,
            "settings": dataclasses.asdict(self.settings),
            "versions": {"librosa": librosa.__version__, "numpy": np.__version__, "scipy": scipy.__version__},
        }

    def forward(self, wavs: Sequence[WaveInput], layers: Sequence[str] | str | None = None) -> UpstreamOutput:
        """Log-mel layers for a batch of unpadded waveforms (padded frames are zero)."""
        layers = check_layers(self, layers)
        waves = as_waveforms(wavs)
        mels = []
        for index, wave in enumerate(waves):
            try:
                mels.append(torch.from_numpy(log_mel(wave.detach().cpu().numpy(), self.settings)))
            except ValueError as error:
                raise ValueError(f"waveform {index}: {error}") from error
        states: dict[str, Tensor] = {}
        lengths: dict[str, Tensor] = {}
        for layer in layers:
            stride = self._stride(layer)
            per_utt = [mel[::stride] for mel in mels]
            lengths[layer] = torch.tensor([len(m) for m in per_utt], dtype=torch.long)
            padded = torch.zeros(len(per_utt), int(lengths[layer].max()), self.settings.n_mels)
            for row, mel in enumerate(per_utt):
                padded[row, : len(mel)] = mel
            states[layer] = padded.to(self._device)
        return UpstreamOutput(hidden_states=states, lengths=lengths)
