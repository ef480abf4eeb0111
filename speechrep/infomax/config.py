"""Configuration of CPC / GIM / SIM / V-GIM encoders and their InfoNCE objectives.

One dataclass, :class:`InfoMaxConfig`, describes every variant; the model reads nothing else.
The conv stack is CPC's (van den Oord et al. 2018, "Representation Learning with Contrastive
Predictive Coding"): kernels 10, 8, 4, 4, 4, strides 5, 4, 2, 2, 2, paddings 2, 2, 2, 2, 1, 512
channels, each layer Conv1d (-> BatchNorm1d) -> ReLU, so one frame per 160 samples (100 Hz at
16 kHz) after the last layer. A conv layer maps ``L`` input frames to

    L' = floor((L + 2 p - k) / s) + 1,

so 20480 samples give 4095 -> 1023 -> 512 -> 257 -> 128 frames.

``module_layers`` cuts the stack into gradient-isolated modules (Löwe et al. 2019, "Putting An
End to End-to-End: Gradient-Isolated Learning of Representations"); each conv module ends in
1x1-conv heads (μ and, for SIM, log σ²; Denoodt et al. 2025, "Smooth InfoMax"). The GRU (CPC's
autoregressive context network) either forms a module of its own, which predicts its own
(detached) input, or is *joined* to the last conv module, whose InfoNCE then predicts the head's
future outputs from the GRU's context, as in CPC. The presets:

========  =============  =============  ===========  ==============  =====================
preset    module_layers  GRU            variational  latent dims     prediction steps K
========  =============  =============  ===========  ==============  =====================
``cpc``   (5,)           joined (256)   no           512 -> 256      10 (one module: end to end)
``gim``   (2, 2, 1)      module (256)   no           512 ×3, 256     10 per module
``sim``   (2, 2, 1)      module (256)   yes          512 ×3, 256     10 per module
``vgim``  (3, 2)         joined (16)    yes          32, 32 -> 16    12, 4
========  =============  =============  ===========  ==============  =====================

A joined module's output (its layer) is the GRU's; the head's samples are its InfoNCE targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

KLReduction = Literal["per_frame", "sum_over_time"]


@dataclass
class InfoMaxConfig:
    """Every size and switch of an InfoMax encoder and its training objective.

    Attributes:
        kernel_sizes: kernel of each conv layer.
        strides: stride of each conv layer.
        paddings: zero padding on both sides of each conv layer.
        conv_channels: channels of every conv layer.
        module_layers: number of conv layers in each gradient-isolated conv module (sums to the
            number of layers); ``(2, 2, 1)`` is SIM's split.
        latent_dims: output (μ) dimension of each conv module's head; ``None``: ``conv_channels``.
        recurrent_dim: hidden size of the GRU after the conv modules; ``None``: no GRU.
        recurrent_joined: the GRU belongs to the last conv module (CPC, V-GIM) instead of being a
            module of its own (GIM, SIM).
        batch_norm: BatchNorm1d between each conv and its ReLU (SIM's LibriSpeech default; off for
            the syllable corpus).
        variational: the heads give a Gaussian ``N(μ, diag σ²)`` and the module outputs samples
            (SIM); ``False``: the module outputs μ and has no log σ² head (GIM, CPC).
        deterministic: a variational module outputs μ instead of a sample (the probe setting).
            This is the only switch that stops sampling; ``train()`` / ``eval()`` do not.
        two_samples: during training a variational module draws two independent samples, the
            InfoNCE context and the target (the target also feeds the next module), as SIM does;
            ``False``: one sample serves as both.
        prediction_steps: K, the future frames each module predicts; one int for all modules or
            one per module (a separate GRU module counts as the last).
        num_negatives: N, negative frames per positive, drawn uniformly from all frames of the
            batch other than the positive.
        subsample_window: modules with more frames compute InfoNCE on one random window of this
            many frames (SIM: 128, so only the first two modules are affected); ``None``: all frames.
        kl_weight: weight β of the KL term of variational modules (SIM: 0.01 default, 0.001 on
            LibriSpeech in the paper's README).
        kl_reduction: ``"per_frame"`` (sum over latent dims, mean over batch and frames, the
            standard VAE reduction) or ``"sum_over_time"`` (sum over frames, mean over batch and
            dims: SIM's code, whose effective β grows with the number of frames).
    """

    kernel_sizes: tuple[int, ...] = (10, 8, 4, 4, 4)
    strides: tuple[int, ...] = (5, 4, 2, 2, 2)
    paddings: tuple[int, ...] = (2, 2, 2, 2, 1)
    conv_channels: int = 512
    module_layers: tuple[int, ...] = (2, 2, 1)
    latent_dims: tuple[int, ...] | None = None
    recurrent_dim: int | None = 256
    recurrent_joined: bool = False
    batch_norm: bool = True
    variational: bool = True
    deterministic: bool = False
    two_samples: bool = True
    prediction_steps: int | tuple[int, ...] = 10
    num_negatives: int = 10
    subsample_window: int | None = 128
    kl_weight: float = 0.01
    kl_reduction: KLReduction = "per_frame"
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in ("kernel_sizes", "strides", "paddings", "module_layers"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        if self.latent_dims is not None:
            self.latent_dims = tuple(int(v) for v in self.latent_dims)
        if not isinstance(self.prediction_steps, int):
            self.prediction_steps = tuple(int(v) for v in self.prediction_steps)
        layers = len(self.kernel_sizes)
        if not layers or len(self.strides) != layers or len(self.paddings) != layers:
            raise ValueError(
                f"kernel_sizes, strides and paddings need one entry per conv layer, got "
                f"{self.kernel_sizes}, {self.strides}, {self.paddings}"
            )
        if sum(self.module_layers) != layers or min(self.module_layers) < 1:
            raise ValueError(
                f"module_layers {self.module_layers} must be positive and sum to the {layers} conv layers"
            )
        if self.latent_dims is not None and len(self.latent_dims) != len(self.module_layers):
            raise ValueError(
                f"latent_dims {self.latent_dims} needs one entry per conv module ({len(self.module_layers)})"
            )
        if self.recurrent_joined and self.recurrent_dim is None:
            raise ValueError("recurrent_joined needs a GRU: set recurrent_dim")
        steps = self.steps_per_module()
        if len(steps) != self.num_modules or min(steps) < 1:
            raise ValueError(
                f"prediction_steps {self.prediction_steps} must be positive, one int or one per module "
                f"({self.num_modules} modules)"
            )
        if self.num_negatives < 1:
            raise ValueError(f"num_negatives must be positive, got {self.num_negatives}")
        if self.subsample_window is not None and self.subsample_window <= max(steps):
            raise ValueError(
                f"subsample_window {self.subsample_window} must exceed the largest prediction step "
                f"{max(steps)}"
            )
        if self.kl_reduction not in ("per_frame", "sum_over_time"):
            raise ValueError(
                f"kl_reduction must be 'per_frame' or 'sum_over_time', got {self.kl_reduction!r}"
            )
        if self.kl_weight < 0:
            raise ValueError(f"kl_weight must be non-negative, got {self.kl_weight}")
        if self.extra:
            raise ValueError(f"unknown InfoMaxConfig field(s) {sorted(self.extra)}")

    # ---------------------------------------------------------------------------------------------
    @property
    def num_conv_modules(self) -> int:
        return len(self.module_layers)

    @property
    def has_recurrent_module(self) -> bool:
        """The GRU is a module of its own."""
        return self.recurrent_dim is not None and not self.recurrent_joined

    @property
    def num_modules(self) -> int:
        """Conv modules plus the separate GRU module (if any)."""
        return self.num_conv_modules + self.has_recurrent_module

    def conv_module_dims(self) -> tuple[int, ...]:
        """Latent (μ) dimension of each conv module."""
        return self.latent_dims or (self.conv_channels,) * self.num_conv_modules

    def module_dims(self) -> tuple[int, ...]:
        """Output dimension of every module (a joined GRU replaces its module's head output)."""
        dims = self.conv_module_dims()
        if self.recurrent_dim is None:
            return dims
        if self.recurrent_joined:
            return (*dims[:-1], self.recurrent_dim)
        return (*dims, self.recurrent_dim)

    def steps_per_module(self) -> tuple[int, ...]:
        """K of every module."""
        if isinstance(self.prediction_steps, int):
            return (self.prediction_steps,) * self.num_modules
        return self.prediction_steps

    def module_layer_ranges(self) -> list[range]:
        """The conv-layer indices of each conv module."""
        ranges, start = [], 0
        for count in self.module_layers:
            ranges.append(range(start, start + count))
            start += count
        return ranges

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (tuples as lists), the inverse of :meth:`from_dict`."""
        out = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InfoMaxConfig:
        """Build from :meth:`to_dict` output; unknown keys fail with their names."""
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    # -- presets ----------------------------------------------------------------------------------
    @classmethod
    def cpc(cls, **overrides: Any) -> InfoMaxConfig:
        """CPC: the whole conv stack and the GRU as one module (end to end), linear μ head."""
        base = cls(module_layers=(5,), recurrent_joined=True, variational=False, kl_weight=0.0)
        return replace(base, **overrides)

    @classmethod
    def gim(cls, **overrides: Any) -> InfoMaxConfig:
        """Greedy InfoMax as in SIM's code: modules (2, 2, 1) + GRU, deterministic μ heads."""
        return replace(cls(variational=False, kl_weight=0.0), **overrides)

    @classmethod
    def sim(cls, **overrides: Any) -> InfoMaxConfig:
        """Smooth InfoMax: modules (2, 2, 1) + GRU, Gaussian heads, KL to N(0, I)."""
        return replace(cls(), **overrides)

    @classmethod
    def vgim(cls, **overrides: Any) -> InfoMaxConfig:
        """Variational Greedy InfoMax: two modules, 32-d conv latents, joined 16-d GRU, K = 12 and 4."""
        base = cls(
            module_layers=(3, 2),
            latent_dims=(32, 32),
            recurrent_dim=16,
            recurrent_joined=True,
            prediction_steps=(12, 4),
            kl_weight=0.0033,
        )
        return replace(base, **overrides)


PRESETS = {
    "cpc": InfoMaxConfig.cpc,
    "gim": InfoMaxConfig.gim,
    "sim": InfoMaxConfig.sim,
    "vgim": InfoMaxConfig.vgim,
}


def infomax_config(preset: str = "sim", **overrides: Any) -> InfoMaxConfig:
    """A preset (``cpc``, ``gim``, ``sim``, ``vgim``) with field overrides (the Hydra entry point)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown InfoMax preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset](**overrides)
