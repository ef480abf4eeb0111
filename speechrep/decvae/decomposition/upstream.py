"""A decomposition model seen as an upstream, so decomposed corpora go through the feature store.

The feature store already does everything a decomposition cache needs: content-keyed folders (the
key hashes the manifest and :meth:`DecompositionUpstream.fingerprint`, so changing any setting
never reuses a stale cache), sharded atomic writes, resumption after a crash, skipping of bad files,
and memory-mapped reading. So the decomposition is presented as a pseudo-upstream whose "layers" are:

==============  ======================================  ==========================================
layer           ``level="frame"`` (one row per frame)   ``level="utterance"``
==============  ======================================  ==========================================
``input``       the preprocessed frame ``X``            one row per sample, dim 1
``comp.k``      component ``k`` (low → high frequency)  one row per sample, dim 1
``residue``     what the method set aside               one row per sample, dim 1
``padded``      ``(C,)`` 1.0 where slot ``k`` is padding  one row per utterance
``centre_hz``   ``(C,)`` centre frequencies, 0 if padded  one row per utterance
==============  ======================================  ==========================================

Preprocessing follows the DecVAE reference: zero-mean unit-variance normalisation per utterance (as
the wav2vec2 feature extractor does), then a 55–70 Hz Butterworth band-stop of order 4 applied
forward and backward (mains hum); frames are ``frame_length`` samples every ``hop_length`` (400 and
320: the receptive field and stride of the wav2vec2 CNN), the last partial frame dropped. Rows are
stored as float16, like all features (about 3 significant digits).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

import numpy as np
import scipy.signal
import torch
from torch import Tensor

from speechrep.decvae.decomposition.base import Decomposition, DecompositionOutput, frame_signal
from speechrep.upstream.base import Upstream, UpstreamOutput, WaveInput, as_waveforms, check_layers

LEVELS = ("frame", "utterance")
SUMMARY_LAYERS = ("padded", "centre_hz")


@dataclass(frozen=True)
class Preprocessing:
    """Per-utterance preprocessing before framing (defaults: the DecVAE reference).

    Attributes:
        normalise: subtract the mean and divide by the standard deviation of the utterance.
        notch_hz: band-stop edges in Hz (``None``: no band-stop).
        notch_order: Butterworth order of the band-stop (applied twice: zero phase).
    """

    normalise: bool = True
    notch_hz: tuple[float, float] | None = (55.0, 70.0)
    notch_order: int = 4

    def __post_init__(self) -> None:
        if self.notch_hz is not None:
            low, high = (float(f) for f in self.notch_hz)
            if not 0 < low < high:
                raise ValueError(f"notch_hz must be two increasing positive frequencies, got {self.notch_hz}")
            object.__setattr__(self, "notch_hz", (low, high))

    def apply(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """The preprocessed float64 copy of one waveform."""
        x = np.asarray(wave, dtype=np.float64)
        if self.normalise:
            std = x.std()
            x = (x - x.mean()) / (std if std > 0 else 1.0)
        if self.notch_hz is not None:
            sos = scipy.signal.butter(
                self.notch_order, list(self.notch_hz), "bandstop", fs=sample_rate, output="sos"
            )
            default_pad = 3 * (2 * len(sos) + 1)  # scipy's default; shorter signals pad what they can
            x = scipy.signal.sosfiltfilt(sos, x, padlen=min(default_pad, len(x) - 1))
        return np.ascontiguousarray(x)


class DecompositionUpstream(Upstream):
    """Layers ``input``, ``comp.0 … comp.{C−1}``, ``residue``, ``padded``, ``centre_hz`` (module docstring).

    Args:
        decomposition: the decomposition model (its device is used).
        level: ``frame`` (decompose each frame) or ``utterance`` (decompose whole utterances).
        frame_length, hop_length: framing in samples (``level="frame"``).
        preprocessing: normalisation and band-stop (defaults: the reference's).
        frames_per_batch: frames decomposed in one call (bounds memory; results do not depend on it).
    """

    def __init__(
        self,
        decomposition: Decomposition,
        level: str = "frame",
        frame_length: int = 400,
        hop_length: int = 320,
        preprocessing: Preprocessing | None = None,
        frames_per_batch: int = 2048,
    ) -> None:
        super().__init__()
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if frame_length < 2 or hop_length < 1 or frames_per_batch < 1:
            raise ValueError("frame_length must be at least 2, hop_length and frames_per_batch at least 1")
        self.decomposition = decomposition
        self.level = level
        self.frame_length = int(frame_length)
        self.frame_hop = int(hop_length)
        self.preprocessing = preprocessing or Preprocessing()
        self.frames_per_batch = int(frames_per_batch)
        self.sample_rate = decomposition.sample_rate
        count = decomposition.n_components
        self.name = f"decomposition-{decomposition.name}-noc{count}" + (
            "-utterance" if level == "utterance" else ""
        )
        self.signal_layers = ["input", *(f"comp.{k}" for k in range(count)), "residue"]
        self.layer_names = [*self.signal_layers, *SUMMARY_LAYERS]

    # -- geometry ---------------------------------------------------------------------------------
    def _per_utterance(self, layer: str) -> bool:
        check_layers(self, [layer])
        return self.level == "utterance" and layer in SUMMARY_LAYERS

    def hop_length(self, layer: str) -> int:
        """Samples between rows: the frame hop, 1 for per-sample rows, 0 for one row per utterance."""
        if self._per_utterance(layer):
            return 0
        return self.frame_hop if self.level == "frame" else 1

    def receptive_field(self, layer: str) -> int:
        self._per_utterance(layer)
        return self.frame_length if self.level == "frame" else 1

    def num_frames(self, layer: str, num_samples: int) -> int:
        if self._per_utterance(layer):
            return 1
        if self.level == "utterance":
            return int(num_samples)
        return (
            0 if num_samples < self.frame_length else 1 + (num_samples - self.frame_length) // self.frame_hop
        )

    def feature_dim(self, layer: str) -> int:
        if self._per_utterance(layer) or layer in SUMMARY_LAYERS:
            return self.decomposition.n_components
        return self.frame_length if self.level == "frame" else 1

    def fingerprint(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "decomposition": self.decomposition.fingerprint(),
            "level": self.level,
            "frame_length": self.frame_length if self.level == "frame" else None,
            "hop_length": self.frame_hop if self.level == "frame" else None,
            "preprocessing": asdict(self.preprocessing),
            "versions": {name: _version(name) for name in ("torch", "scipy", "emd-signal")},
        }

    # -- the numbers ------------------------------------------------------------------------------
    def forward(self, wavs: Sequence[WaveInput], layers: Sequence[str] | str | None = None) -> UpstreamOutput:
        """Decompose each waveform; rows per layer as in the module docstring, zero-padded to the longest."""
        layers = check_layers(self, layers)
        signals = [
            torch.from_numpy(self.preprocessing.apply(w.cpu().numpy(), self.sample_rate))
            for w in as_waveforms(wavs)
        ]
        per_utt = [self._rows(x, out) for x, out in zip(signals, self._decompose(signals))]
        states: dict[str, Tensor] = {}
        lengths: dict[str, Tensor] = {}
        for layer in layers:
            rows = [item[layer] for item in per_utt]
            lengths[layer] = torch.tensor([len(r) for r in rows], dtype=torch.long)
            padded = torch.zeros(len(rows), int(lengths[layer].max()), self.feature_dim(layer))
            for i, r in enumerate(rows):
                padded[i, : len(r)] = r
            states[layer] = padded
        return UpstreamOutput(hidden_states=states, lengths=lengths)

    def _decompose(self, signals: list[Tensor]) -> list[DecompositionOutput]:
        """One output per utterance: its frames (``(F, C, L)``) or the utterance itself (``(1, C, N)``)."""
        if self.level == "utterance":
            return [self.decomposition(x[None]).to("cpu") for x in signals]
        frames = [frame_signal(x, self.frame_length, self.frame_hop) for x in signals]
        stacked = torch.cat(frames)
        parts = [
            self.decomposition(stacked[i : i + self.frames_per_batch]).to("cpu")
            for i in range(0, len(stacked), self.frames_per_batch)
        ]
        if not parts:
            empty = stacked.new_zeros((0, self.decomposition.n_components, self.frame_length))
            flags = torch.zeros((0, self.decomposition.n_components), dtype=torch.bool)
            parts = [DecompositionOutput(empty, flags, flags.double(), stacked)]
        merged = DecompositionOutput(
            torch.cat([p.components for p in parts]),
            torch.cat([p.padded for p in parts]),
            torch.cat([p.centre_hz for p in parts]),
            torch.cat([p.residue for p in parts]),
        )
        bounds = np.cumsum([0, *(len(f) for f in frames)])
        return [
            DecompositionOutput(
                merged.components[a:b], merged.padded[a:b], merged.centre_hz[a:b], merged.residue[a:b]
            )
            for a, b in itertools.pairwise(bounds)
        ]

    def _rows(self, x: Tensor, out: DecompositionOutput) -> dict[str, Tensor]:
        """The rows of every layer for one utterance (float32)."""
        signal = frame_signal(x, self.frame_length, self.frame_hop) if self.level == "frame" else x[None]
        rows = {"input": signal, "residue": out.residue, "padded": out.padded.float()}
        rows["centre_hz"] = torch.nan_to_num(out.centre_hz, nan=0.0)
        for k in range(self.decomposition.n_components):
            rows[f"comp.{k}"] = out.components[:, k]
        if self.level == "utterance":  # (1, N) signals → (N, 1) rows of one sample
            rows = {name: r if name in SUMMARY_LAYERS else r.T for name, r in rows.items()}
        return {name: r.float() for name, r in rows.items()}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
