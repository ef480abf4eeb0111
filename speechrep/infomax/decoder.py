"""Transposed-conv decoders from a module's latents back to audio, trained on a frozen encoder.

A decoder mirrors the encoder's conv layers up to the module it reads, in reverse order: a
``ConvTranspose1d`` with the same kernel ``k``, stride ``s`` and padding ``p`` per layer, ReLU
between layers, one output channel and no output activation (SIM's decoder without its extra
stride-1 layers). A transposed conv maps ``L`` frames to ``(L - 1) s - 2p + k + op`` samples;
``op`` (the output padding, ``0 <= op < s``) is chosen per call from the encoder's own length
arithmetic, so the output has exactly the length of the input that produced the latents, for
any input length, not just SIM's 10240 / 20480.

:class:`LatentDecoderModel` trains a decoder on the latents of a frozen encoder (Trainer
protocol): the encoder stays in eval mode even when the model is switched to train mode (SIM's
Lightning run let BatchNorm statistics drift), it is run without gradients, and only the decoder's
parameters are handed to the optimiser. Latents are samples or μ, by explicit choice.
The reconstruction losses are in :mod:`speechrep.infomax.decoder_losses`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from speechrep.infomax.decoder_losses import DecoderLoss
from speechrep.infomax.encoder import InfoMaxEncoder
from speechrep.infomax.geometry import conv_lengths
from speechrep.infomax.model import batch_waves


class InfoMaxDecoder(nn.Module):
    """Decoder of module ``module`` of an encoder with ``encoder.config`` (see the module docstring).

    Args:
        encoder: the encoder whose geometry is mirrored (its weights are not used).
        module: the module whose latents are decoded.
        hidden_channels: channels between the transposed convs (SIM: 512).
    """

    def __init__(self, encoder: InfoMaxEncoder, module: int, hidden_channels: int = 512) -> None:
        super().__init__()
        config = encoder.config
        self.module_index = int(module)
        self.num_layers = encoder.last_conv_layer(module)
        self._geometry = (config.kernel_sizes, config.strides, config.paddings)
        layers = []
        channels = config.module_dims()[module]
        for i in reversed(range(self.num_layers)):
            out_channels = 1 if i == 0 else hidden_channels
            layers.append(
                nn.ConvTranspose1d(
                    channels, out_channels, config.kernel_sizes[i], config.strides[i], config.paddings[i]
                )
            )
            channels = out_channels
        self.layers = nn.ModuleList(layers)

    def lengths(self, num_samples: int) -> list[int]:
        """Input length of each transposed conv's output, last layer first (ends with ``num_samples``)."""
        kernels, strides, paddings = (g[: self.num_layers] for g in self._geometry)
        return [int(num_samples), *conv_lengths(num_samples, kernels, strides, paddings)]

    def forward(self, latent: Tensor, num_samples: int) -> Tensor:
        """``(B, L, C)`` latents -> ``(B, num_samples)`` audio; ``L`` must be the encoder's frame count."""
        sizes = self.lengths(num_samples)
        if latent.ndim != 3 or latent.shape[1] != sizes[-1]:
            raise ValueError(
                f"module {self.module_index} gives {sizes[-1]} frames for {num_samples} samples, "
                f"but the latents have shape {tuple(latent.shape)} (expected (B, {sizes[-1]}, C))"
            )
        x = latent.transpose(1, 2)
        for index, (layer, size) in enumerate(zip(self.layers, reversed(sizes[:-1]))):
            x = layer(x, output_size=[size])
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return x.squeeze(1)


class LatentDecoderModel(nn.Module):
    """A decoder trained on a frozen encoder's latents (Trainer protocol; see the module docstring).

    Args:
        encoder: the trained encoder (frozen here).
        decoder: the decoder of one of its modules.
        loss: the reconstruction loss.
        sample_latents: decode samples of variational modules (SIM's decoder runs); ``False``: μ.
    """

    def __init__(
        self, encoder: InfoMaxEncoder, decoder: InfoMaxDecoder, loss: DecoderLoss, sample_latents: bool = True
    ) -> None:
        super().__init__()
        self.encoder = encoder.eval().requires_grad_(False)
        self.decoder = decoder
        self.loss = loss
        self.sample_latents = sample_latents

    def train(self, mode: bool = True) -> LatentDecoderModel:
        super().train(mode)
        self.encoder.eval()
        return self

    def parameter_groups(self) -> list[dict]:
        return [{"params": list(self.decoder.parameters())}]

    def _losses(self, batch: Tensor | Mapping[str, Tensor]) -> dict[str, Tensor]:
        wave = batch_waves(batch)
        latent = self.encoder.encode(wave, self.decoder.module_index, deterministic=not self.sample_latents)
        return self.loss(self.decoder(latent, wave.shape[-1]), wave)

    def training_step(self, batch: Tensor | Mapping[str, Tensor]) -> dict[str, Tensor]:
        return self._losses(batch)

    @torch.no_grad()
    def validation_step(self, batch: Tensor | Mapping[str, Tensor]) -> dict[str, Tensor]:
        return self._losses(batch)
