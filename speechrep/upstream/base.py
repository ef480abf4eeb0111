"""The upstream interface: a frozen speech model that returns named layers for a batch of waveforms.

Every model speechrep analyses (HF wav2vec2-style models, the mel-spectrogram baseline, the
project's own encoders) is wrapped as an :class:`Upstream`. The contract, modelled on s3prl's
upstream interface but with named layers and exact batching:

- input: a list of unpadded 1-D float waveforms at :attr:`Upstream.sample_rate`;
- output (:class:`UpstreamOutput`): per requested layer a padded ``(B, T_max, D)`` tensor whose
  padded frames are zero, plus the number of valid frames of each utterance;
- :meth:`Upstream.extract` returns the same per utterance, trimmed, float32 on the CPU;
- frame geometry per layer (:meth:`~Upstream.hop_length`, :meth:`~Upstream.receptive_field`,
  :meth:`~Upstream.num_frames`) so alignments can be mapped to frames without running the model;
- :meth:`~Upstream.fingerprint`: a JSON-able identity that feature caches are keyed on.

Layer names are strings such as ``cnn.3`` or ``tf.12`` (see ``ARCHITECTURE.md``); unknown names fail
early in :func:`check_layers` with the list of valid ones.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

WaveInput = Tensor | np.ndarray


@dataclass
class UpstreamOutput:
    """Layer-wise features of one batch.

    Attributes:
        hidden_states: layer name -> ``(B, T_max, D)`` features, padded with zeros after each
            utterance's last valid frame. ``T_max`` is the frame count of the longest utterance.
        lengths: layer name -> ``(B,)`` int64 number of valid frames per utterance.
    """

    hidden_states: dict[str, Tensor]
    lengths: dict[str, Tensor]

    def unbatch(self) -> list[dict[str, Tensor]]:
        """Per utterance: layer -> ``(T_layer, D)`` float32 CPU tensor, trimmed to its valid frames."""
        if not self.lengths:
            return []
        batch_size = len(next(iter(self.lengths.values())))
        items: list[dict[str, Tensor]] = [{} for _ in range(batch_size)]
        for layer, states in self.hidden_states.items():
            states = states.detach().to("cpu", torch.float32)
            for index, length in enumerate(self.lengths[layer].tolist()):
                items[index][layer] = states[index, :length].clone()
        return items


class Upstream(torch.nn.Module, abc.ABC):
    """A frozen speech model exposing named layers; see the module docstring for the contract.

    Subclasses set :attr:`name`, :attr:`sample_rate` and :attr:`layer_names` in ``__init__`` and
    implement the abstract methods. Geometry is given in input samples at :attr:`sample_rate`.
    """

    name: str
    sample_rate: int = 16_000
    layer_names: list[str]

    @abc.abstractmethod
    def hop_length(self, layer: str) -> int:
        """Input samples between the starts of two consecutive frames of ``layer``."""

    @abc.abstractmethod
    def receptive_field(self, layer: str) -> int:
        """Input samples one frame of ``layer`` is computed from (for layers above a CNN: the CNN's)."""

    @abc.abstractmethod
    def num_frames(self, layer: str, num_samples: int) -> int:
        """The number of frames the model produces for ``layer`` from ``num_samples`` input samples."""

    def feature_dim(self, layer: str) -> int:
        """The feature dimension ``D`` of ``layer``.

        This generic version runs one second of low-level noise through the model; subclasses that
        know their sizes override it.
        """
        noise = 0.01 * torch.randn(self.sample_rate, generator=torch.Generator().manual_seed(0))
        return int(self.forward([noise], [layer]).hidden_states[layer].shape[-1])

    @abc.abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able identity of everything that determines the features (for cache keys)."""

    @abc.abstractmethod
    def forward(self, wavs: Sequence[WaveInput], layers: Sequence[str] | str | None = None) -> UpstreamOutput:
        """Features of ``layers`` (default: all of :attr:`layer_names`) for a batch of unpadded waveforms."""

    def hop_seconds(self, layer: str) -> float:
        """Seconds between consecutive frames of ``layer`` (the ``hop_seconds`` of :mod:`.frames`)."""
        return self.hop_length(layer) / self.sample_rate

    def extract(
        self, wavs: Sequence[WaveInput], layers: Sequence[str] | str | None = None
    ) -> list[dict[str, Tensor]]:
        """Per utterance: layer -> ``(T_layer, D)`` float32 CPU tensor, trimmed to its own length."""
        if len(wavs) == 0:
            check_layers(self, layers)
            return []
        return self.forward(wavs, layers).unbatch()


# --------------------------------------------------------------------------------------------------
# Helpers shared by the implementations
# --------------------------------------------------------------------------------------------------


def check_layers(upstream: Upstream, layers: Sequence[str] | str | None) -> list[str]:
    """Validate requested layer names; return them in request order without duplicates.

    ``None`` means every layer of ``upstream``; a single string means that one layer. An unknown
    name raises ``ValueError`` naming it and listing the valid names, e.g.
    ``unknown layer 'tf.13' for random:wav2vec2; valid: cnn.0..cnn.6, tf.0..tf.12``.
    """
    if layers is None:
        return list(upstream.layer_names)
    if isinstance(layers, str):
        layers = [layers]
    valid = set(upstream.layer_names)
    selected: list[str] = []
    for layer in layers:
        if not isinstance(layer, str):
            raise TypeError(f"layer names are strings such as 'tf.3', got {layer!r} ({type(layer).__name__})")
        if layer not in valid:
            valid_names = describe_layer_names(upstream.layer_names)
            raise ValueError(f"unknown layer {layer!r} for {upstream.name}; valid: {valid_names}")
        if layer not in selected:
            selected.append(layer)
    if not selected:
        raise ValueError(
            f"no layers requested for {upstream.name}; valid: {describe_layer_names(upstream.layer_names)}"
        )
    return selected


_NUMBERED = re.compile(r"^(.*\.)(\d+)$")


def describe_layer_names(names: Sequence[str]) -> str:
    """Compress runs of numbered names: ``cnn.0..cnn.6, tf.0..tf.12, tf.final``."""
    parts: list[str] = []
    run: list[str] = []
    run_prefix, run_last = None, -2

    def flush() -> None:
        if run:
            parts.append(run[0] if len(run) == 1 else f"{run[0]}..{run[-1]}")
            run.clear()

    for name in names:
        match = _NUMBERED.match(name)
        if match and match.group(1) == run_prefix and int(match.group(2)) == run_last + 1:
            run.append(name)
            run_last += 1
            continue
        flush()
        if match:
            run.append(name)
            run_prefix, run_last = match.group(1), int(match.group(2))
        else:
            parts.append(name)
            run_prefix, run_last = None, -2
    flush()
    return ", ".join(parts)


def as_waveforms(wavs: Sequence[WaveInput], min_samples: int = 1) -> list[Tensor]:
    """Validate a batch of waveforms and return them as 1-D float32 tensors (on their own device).

    Fails early, naming the utterance index, on an empty batch, a non-1-D array, too few samples
    (``min_samples``: the shortest input the requested layers can produce a frame for) or NaN/inf.
    """
    if isinstance(wavs, Tensor | np.ndarray):
        raise TypeError(
            f"wavs must be a list of unpadded 1-D waveforms, not one {wavs.ndim}-D array; "
            "pass [wave] for a single utterance, or the rows of a batch with their padding removed"
        )
    if len(wavs) == 0:
        raise ValueError("no waveforms given (empty batch)")
    out: list[Tensor] = []
    for index, wav in enumerate(wavs):
        wav = torch.as_tensor(wav)
        if wav.ndim != 1:
            raise ValueError(f"waveform {index} has shape {tuple(wav.shape)}; expected a 1-D (mono) waveform")
        if not wav.is_floating_point():
            raise TypeError(f"waveform {index} has dtype {wav.dtype}; expected floats in [-1, 1]")
        if wav.numel() < min_samples:
            raise ValueError(
                f"waveform {index} has {wav.numel()} samples; "
                f"the requested layers need at least {min_samples}"
            )
        if not bool(torch.isfinite(wav).all()):
            raise ValueError(f"waveform {index} contains NaN or infinite samples")
        out.append(wav.to(torch.float32))
    return out


def conv_output_length(num_samples: int, kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Frames after a stack of unpadded 1-D convolutions: ``floor((L - k) / s) + 1`` per layer (>= 0)."""
    length = int(num_samples)
    for kernel, stride in zip(kernels, strides, strict=True):
        if length < kernel:
            return 0
        length = (length - kernel) // stride + 1
    return length


def conv_receptive_field(kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Input samples one output frame of a stack of unpadded 1-D convolutions depends on."""
    field, jump = 1, 1
    for kernel, stride in zip(kernels, strides, strict=True):
        field += (kernel - 1) * jump
        jump *= stride
    return field
