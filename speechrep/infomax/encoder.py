"""CPC / GIM / SIM / V-GIM encoders: a conv stack cut into gradient-isolated modules.

A conv module is ``[Conv1d -> (BatchNorm1d) -> ReLU] × n`` followed by 1x1-conv heads on the
post-ReLU features: μ, and for variational (SIM) modules log σ². A variational module outputs the
reparameterised sample

    z = μ + exp(½ log σ²) ⊙ ε,    ε ~ N(0, I),

unless sampling is switched off (``deterministic``), in which case it outputs μ exactly; a
non-variational (GIM, CPC) module always outputs μ. Sampling depends only on that explicit
switch (config default, overridable per call), never on ``train()`` / ``eval()``; BatchNorm does
follow the mode, as everywhere in torch.

During training SIM draws two independent samples per module: the InfoNCE context and the
target, which also feeds the next module (``two_samples``). The GRU (batch-first, one layer, zero
initial state) is either a module of its own, whose context is its output and whose targets are
its input, or joined to the last conv module (CPC, V-GIM), whose context is then the GRU output
and whose targets are the head's output.

Between modules the input of module ``m + 1`` is module ``m``'s output, detached unless the
caller asks otherwise, so each module's loss trains only that module (Löwe et al. 2019).

Checkpoints: :meth:`InfoMaxEncoder.save_pretrained` writes ``config.json`` +
``model.safetensors``; :meth:`InfoMaxEncoder.from_pretrained` reads them (no pickle).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from speechrep.infomax.config import InfoMaxConfig
from speechrep.infomax.geometry import FrameGeometry, conv_lengths, frame_geometry
from speechrep.utils.io import atomic_write_json

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass
class ModuleOutput:
    """What one module computes for a batch; every tensor is ``(B, L, ·)``.

    Attributes:
        latent: the module's output (its layer ``module.m``): a sample, μ, or the GRU output.
        context: the InfoNCE context frames.
        target: the InfoNCE target frames.
        mu: the head's μ (``None`` for a separate GRU module).
        logvar: the head's log σ² (variational modules only).
    """

    latent: Tensor
    context: Tensor
    target: Tensor
    mu: Tensor | None = None
    logvar: Tensor | None = None


@dataclass
class EncoderOutput:
    """Per module, in order; ``latents`` are the modules' outputs."""

    modules: list[ModuleOutput]

    @property
    def latents(self) -> list[Tensor]:
        return [m.latent for m in self.modules]


class ConvModule(nn.Module):
    """Conv layers of one module with μ (and log σ²) heads; see the module docstring."""

    def __init__(self, config: InfoMaxConfig, layers: range, in_channels: int, latent_dim: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for index in layers:
            blocks.append(
                nn.Conv1d(
                    channels,
                    config.conv_channels,
                    config.kernel_sizes[index],
                    stride=config.strides[index],
                    padding=config.paddings[index],
                )
            )
            if config.batch_norm:
                blocks.append(nn.BatchNorm1d(config.conv_channels))
            blocks.append(nn.ReLU())
            channels = config.conv_channels
        self.convs = nn.Sequential(*blocks)
        self.mu_head = nn.Conv1d(channels, latent_dim, kernel_size=1)
        self.logvar_head = nn.Conv1d(channels, latent_dim, kernel_size=1) if config.variational else None

    def forward(self, x: Tensor, sample: bool, two_samples: bool) -> ModuleOutput:
        """``x``: ``(B, C_in, T)`` channel-first input; outputs are ``(B, L, D)``."""
        features = self.convs(x)
        mu = self.mu_head(features).transpose(1, 2)
        if self.logvar_head is None:
            return ModuleOutput(latent=mu, context=mu, target=mu, mu=mu)
        logvar = self.logvar_head(features).transpose(1, 2)
        if not sample:
            return ModuleOutput(latent=mu, context=mu, target=mu, mu=mu, logvar=logvar)
        std = torch.exp(0.5 * logvar)
        target = mu + std * torch.randn_like(std)
        context = mu + std * torch.randn_like(std) if two_samples else target
        return ModuleOutput(latent=target, context=context, target=target, mu=mu, logvar=logvar)


class InfoMaxEncoder(nn.Module):
    """The encoder of :class:`InfoMaxConfig`: conv modules, then the GRU (own module or joined).

    Input is raw audio ``(B, T)`` or ``(B, 1, T)`` in [-1, 1], without normalisation (as in CPC).
    Layer names are ``module.0`` … ``module.{M-1}``.
    """

    def __init__(self, config: InfoMaxConfig) -> None:
        super().__init__()
        self.config = config
        dims = config.conv_module_dims()
        modules, channels = [], 1
        for layers, dim in zip(config.module_layer_ranges(), dims):
            modules.append(ConvModule(config, layers, channels, dim))
            channels = dim
        self.conv_modules = nn.ModuleList(modules)
        self.gru = (
            nn.GRU(dims[-1], config.recurrent_dim, num_layers=1, batch_first=True)
            if config.recurrent_dim is not None
            else None
        )

    # -- geometry ---------------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        return [f"module.{m}" for m in range(self.config.num_modules)]

    def resolve_module(self, module: int) -> int:
        """``module`` counted from 0, negative ones from the end (-1: the last); others fail."""
        count = self.config.num_modules
        if not -count <= module < count:
            raise ValueError(f"module {module} does not exist; the encoder has {count} (0 … {count - 1})")
        return module % count

    def last_conv_layer(self, module: int) -> int:
        """The number of conv layers between the input and module ``module``'s output."""
        if not 0 <= module < self.config.num_modules:
            raise ValueError(f"module {module} does not exist; the encoder has {self.config.num_modules}")
        conv_module = min(module, self.config.num_conv_modules - 1)
        return self.config.module_layer_ranges()[conv_module].stop

    def num_frames(self, module: int, num_samples: int) -> int:
        """Frames module ``module`` gives for ``num_samples`` input samples."""
        n = self.last_conv_layer(module)
        c = self.config
        return conv_lengths(num_samples, c.kernel_sizes[:n], c.strides[:n], c.paddings[:n])[-1]

    def geometry(self, module: int) -> FrameGeometry:
        """Hop, receptive field and offset of module ``module``'s frames (a GRU adds context, not hop)."""
        n = self.last_conv_layer(module)
        c = self.config
        return frame_geometry(c.kernel_sizes[:n], c.strides[:n], c.paddings[:n])

    # -- forward ----------------------------------------------------------------------------------
    def forward(
        self,
        wave: Tensor,
        sample: bool | None = None,
        two_samples: bool | None = None,
        isolate: bool = True,
        num_modules: int | None = None,
    ) -> EncoderOutput:
        """Run the first ``num_modules`` modules (default all).

        Args:
            wave: ``(B, T)`` or ``(B, 1, T)`` audio.
            sample: variational modules output samples (``None``: ``not config.deterministic``).
            two_samples: draw separate context and target samples (``None``: ``config.two_samples``).
            isolate: detach each module's output before the next module reads it.
            num_modules: stop after this many modules.
        """
        if wave.ndim == 2:
            wave = wave.unsqueeze(1)
        if wave.ndim != 3 or wave.shape[1] != 1:
            raise ValueError(f"wave must be (B, T) or (B, 1, T), got {tuple(wave.shape)}")
        sample = (not self.config.deterministic) if sample is None else sample
        two_samples = self.config.two_samples if two_samples is None else two_samples
        stop = self.config.num_modules if num_modules is None else num_modules
        outputs: list[ModuleOutput] = []
        x = wave
        for index, module in enumerate(self.conv_modules):
            if index >= stop:
                break
            out = module(x, sample=sample, two_samples=two_samples)
            if self.gru is not None and self.config.recurrent_joined and index == len(self.conv_modules) - 1:
                context, _ = self.gru(out.context)
                out = ModuleOutput(
                    latent=context, context=context, target=out.target, mu=out.mu, logvar=out.logvar
                )
            outputs.append(out)
            x = (out.latent.detach() if isolate else out.latent).transpose(1, 2)
        if self.config.has_recurrent_module and stop > len(self.conv_modules):
            inputs = x.transpose(1, 2)
            context, _ = self.gru(inputs)
            outputs.append(ModuleOutput(latent=context, context=context, target=inputs))
        return EncoderOutput(outputs)

    @torch.no_grad()
    def encode(self, wave: Tensor, module: int, deterministic: bool = True) -> Tensor:
        """``(B, L, D)`` output of one module (μ when ``deterministic``), without gradients."""
        if not 0 <= module < self.config.num_modules:
            raise ValueError(f"module {module} does not exist; the encoder has {self.config.num_modules}")
        out = self.forward(wave, sample=not deterministic, two_samples=False, num_modules=module + 1)
        return out.modules[module].latent

    # -- checkpoints ------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        tmp = directory / f".{WEIGHTS_FILE}.tmp"
        save_file(state, str(tmp))
        os.replace(tmp, directory / WEIGHTS_FILE)
        atomic_write_json(directory / CONFIG_FILE, self.config.to_dict())
        return directory

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, device: str | torch.device | None = None
    ) -> InfoMaxEncoder:
        """An encoder from a :meth:`save_pretrained` directory, in eval mode."""
        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} is missing: an InfoMax encoder directory holds {CONFIG_FILE} and {WEIGHTS_FILE} "
                    "(written by InfoMaxEncoder.save_pretrained or scripts/train_infomax.py)"
                )
        config = InfoMaxConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        encoder = cls(config)
        encoder.load_state_dict(load_file(str(weights_path), device=str(device or "cpu")))
        return encoder.to(device or "cpu").eval()
