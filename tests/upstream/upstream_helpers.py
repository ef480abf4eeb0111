"""Helpers for the upstream tests: tiny random-init upstreams in the real wav2vec2 conv geometry.

The tiny sizes come from ``configs/upstream/tiny_random*.yaml`` (one source of truth), so these
tests also check that those configs build what they promise.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from speechrep.upstream import HFSpeechUpstream, load_upstream

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "upstream"


def config_overrides(name: str) -> dict:
    """``config_overrides`` of ``configs/upstream/<name>.yaml`` as a plain dict."""
    return OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / f"{name}.yaml").config_overrides)


TINY = config_overrides("tiny_random")
TINY_LARGE = config_overrides("tiny_random_large")
#: data2vec-audio stacks ``num_conv_pos_embeddings`` positional conv layers of ``conv_pos_kernel_size``.
TINY_DATA2VEC = {**TINY, "num_conv_pos_embeddings": 2, "conv_pos_kernel_size": 5}


def tiny(
    family: str = "wav2vec2", large: bool = False, seed: int = 0, extra: dict | None = None, **kwargs
) -> HFSpeechUpstream:
    """A tiny random-init upstream of ``family`` in base (post-LN, group norm) or large geometry."""
    if family == "data2vec-audio":
        overrides = dict(TINY_DATA2VEC)
    else:
        overrides = dict(TINY_LARGE if large else TINY)
    overrides.update(extra or {})
    return load_upstream(family, random_init=True, config_overrides=overrides, seed=seed, **kwargs)


def waves(*lengths: int, seed: int = 0) -> list[torch.Tensor]:
    """Reproducible random waveforms of the given lengths (speech-like amplitude)."""
    generator = torch.Generator().manual_seed(seed)
    return [0.1 * torch.randn(n, generator=generator) for n in lengths]
