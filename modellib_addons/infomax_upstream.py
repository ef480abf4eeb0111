"""This project's CPC / GIM / SIM / V-GIM encoders as speechrep upstreams (layers ``module.0`` …).

An :class:`~speechrep.infomax.encoder.InfoMaxEncoder` saved with ``save_pretrained`` (what
``scripts/train_infomax.py`` writes to ``<run>/encoder/``: ``config.json`` + ``model.safetensors``)
becomes an :class:`~speechrep.upstream.base.Upstream`, so the layer-wise analyses (CCA, MI,
probes, feature store) run on it like on any HF model:

- layer ``module.m`` is module ``m``'s output, ``(T_m, D_m)``: μ when ``deterministic`` (the
  default, SIM's probe setting), else one sample per call;
- geometry per layer from the padded conv arithmetic (:mod:`speechrep.infomax.geometry`): hops
  20 / 80 / 160 / 160 samples for SIM's modules; the GRU module has its conv module's frames;
- input: raw 16 kHz audio in [-1, 1], no normalisation (as in training);
- batching: utterances are grouped by exact length and each group runs as one batch, in eval
  mode. Zero-padding would change the last frames (the padded region passes through the conv
  biases), so padded batching is not used and batched output equals unbatched output.

Configs: ``upstream=infomax upstream.path=<run>/encoder``; with ``path: null`` a random-init
encoder of ``preset`` (the random baseline; ``config_overrides`` shrink it for tests).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from speechrep.infomax.config import infomax_config
from speechrep.infomax.encoder import WEIGHTS_FILE, InfoMaxEncoder
from speechrep.upstream.base import Upstream, UpstreamOutput, WaveInput, as_waveforms, check_layers
from speechrep.utils.hashing import file_sha256


class InfoMaxUpstream(Upstream):
    """An InfoMax encoder behind the Upstream interface (module docstring).

    Args:
        encoder: the encoder (put in eval mode, gradients off).
        name: the upstream's name (the checkpoint path, or ``random:<preset>``).
        deterministic: layers are μ rather than samples.
        origin: JSON-able provenance for the fingerprint (path and weights hash, or seed).
        device: where the encoder runs.
    """

    def __init__(
        self,
        encoder: InfoMaxEncoder,
        name: str,
        deterministic: bool = True,
        origin: Mapping[str, Any] | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.encoder = encoder.to(self.device).eval().requires_grad_(False)
        self.name = name
        self.deterministic = bool(deterministic)
        self.origin = dict(origin or {})
        self.layer_names = encoder.layer_names
        self._min_samples = {layer: self._shortest_input(layer) for layer in self.layer_names}

    def _module(self, layer: str) -> int:
        check_layers(self, [layer])
        return int(layer.split(".")[1])

    def hop_length(self, layer: str) -> int:
        return self.encoder.geometry(self._module(layer)).hop

    def receptive_field(self, layer: str) -> int:
        return self.encoder.geometry(self._module(layer)).receptive_field

    def num_frames(self, layer: str, num_samples: int) -> int:
        return self.encoder.num_frames(self._module(layer), num_samples)

    def feature_dim(self, layer: str) -> int:
        return self.encoder.config.module_dims()[self._module(layer)]

    def fingerprint(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "name": self.name,
            "config": self.encoder.config.to_dict(),
            "deterministic": self.deterministic,
            "origin": self.origin,
        }

    def train(self, mode: bool = True) -> InfoMaxUpstream:
        """An upstream stays frozen: the encoder remains in eval mode."""
        super().train(mode)
        self.encoder.eval()
        return self

    def _shortest_input(self, layer: str) -> int:
        """The fewest input samples that give ``layer`` one frame."""
        n = 1
        while self.num_frames(layer, n) < 1:
            n += 1
        return n

    @torch.no_grad()
    def forward(self, wavs: Sequence[WaveInput], layers: Sequence[str] | str | None = None) -> UpstreamOutput:
        """Features of ``layers`` for unpadded waveforms, batched by exact length (padded frames zero)."""
        layers = check_layers(self, layers)
        waves = as_waveforms(wavs, min_samples=max(self._min_samples[layer] for layer in layers))
        modules = [self._module(layer) for layer in layers]
        groups: dict[int, list[int]] = defaultdict(list)
        for index, wave in enumerate(waves):
            groups[len(wave)].append(index)
        per_utt: list[dict[str, Tensor]] = [{} for _ in waves]
        for indices in groups.values():
            batch = torch.stack([waves[i] for i in indices]).to(self.device)
            out = self.encoder(
                batch, sample=not self.deterministic, two_samples=False, num_modules=max(modules) + 1
            )
            for layer, m in zip(layers, modules):
                for row, i in enumerate(indices):
                    per_utt[i][layer] = out.modules[m].latent[row]
        states, lengths = {}, {}
        for layer in layers:
            frames = [item[layer] for item in per_utt]
            lengths[layer] = torch.tensor([len(f) for f in frames], dtype=torch.long)
            padded = frames[0].new_zeros(len(frames), int(lengths[layer].max()), frames[0].shape[-1])
            for row, f in enumerate(frames):
                padded[row, : len(f)] = f
            states[layer] = padded
        return UpstreamOutput(hidden_states=states, lengths=lengths)


def infomax_upstream(
    path: str | os.PathLike | None = None,
    preset: str = "sim",
    config_overrides: Mapping[str, Any] | None = None,
    seed: int = 0,
    deterministic: bool = True,
    device: str | torch.device | None = None,
) -> InfoMaxUpstream:
    """An upstream from an encoder directory (``save_pretrained``), or a random-init ``preset`` encoder.

    Args:
        path: the encoder directory; ``None``: random weights drawn with ``seed``.
        preset: ``cpc`` / ``gim`` / ``sim`` / ``vgim`` (random init only).
        config_overrides: :class:`~speechrep.infomax.config.InfoMaxConfig` fields (random init only).
        seed: seed of the random weights; the global RNG state is left untouched.
        deterministic: layers are μ rather than samples.
        device: where the encoder runs.
    """
    if path is not None:
        if config_overrides:
            raise ValueError(
                "config_overrides apply to random-init encoders only; a checkpoint has its config"
            )
        directory = Path(path)
        encoder = InfoMaxEncoder.from_pretrained(directory)
        origin = {
            "source": "local",
            "path": str(directory.resolve()),
            "sha256": file_sha256(directory / WEIGHTS_FILE),
        }
        return InfoMaxUpstream(encoder, str(directory), deterministic, origin, device)
    config = infomax_config(preset, **dict(config_overrides or {}))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = InfoMaxEncoder(config)
    origin = {"source": "random", "preset": preset, "seed": int(seed)}
    return InfoMaxUpstream(encoder, f"random:{preset}", deterministic, origin, device)
