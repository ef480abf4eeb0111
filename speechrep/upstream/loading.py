"""``load_upstream``: one entry point from a name, a directory or a model family to an Upstream.

What ``name_or_path`` can be:

- ``"mel"``: the log-mel baseline (:class:`~speechrep.upstream.mel.MelUpstream`);
  ``config_overrides`` set :class:`~speechrep.upstream.mel.MelSettings` fields;
- a local directory written by ``save_pretrained`` (``config.json`` + weights, optionally a
  ``preprocessor_config.json``): loaded with ``local_files_only=True``;
- a Hugging Face hub id (``facebook/wav2vec2-base``): loaded with ``from_pretrained`` from the
  network or the local HF cache (``revision`` pins a commit);
- with ``random_init=True``: a model family (``wav2vec2``, ``hubert``, ``wavlm``,
  ``data2vec-audio``, whose default configs are the base geometry) or a directory / hub id whose
  config is used; weights are drawn with ``torch.manual_seed(seed)`` (the standard random-network
  baseline of layer-wise analysis). The global RNG state is left untouched.

``config_overrides`` are applied to the config before the model is built (e.g. the tiny sizes of
``configs/upstream/tiny_random.yaml``); unknown field names fail with a ValueError.

Input normalisation follows the checkpoint: ``do_normalize`` of its feature extractor when it has
one, else :func:`~speechrep.upstream.hf.default_normalize`; an explicit ``normalize`` wins.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    Data2VecAudioConfig,
    HubertConfig,
    PretrainedConfig,
    Wav2Vec2Config,
    WavLMConfig,
)

from speechrep.upstream.base import Upstream
from speechrep.upstream.hf import MODEL_CLASSES, HFSpeechUpstream
from speechrep.upstream.mel import MelSettings, MelUpstream

log = logging.getLogger(__name__)

#: Model families accepted with ``random_init=True``; their default configs are the base geometry.
FAMILY_CONFIGS: dict[str, type[PretrainedConfig]] = {
    "wav2vec2": Wav2Vec2Config,
    "hubert": HubertConfig,
    "wavlm": WavLMConfig,
    "data2vec-audio": Data2VecAudioConfig,
}

MEL_NAME = "mel"

# Derived by the config classes from other fields; dropped before overrides so they are re-derived.
_DERIVED_CONFIG_KEYS = ("num_feat_extract_layers",)


def load_upstream(
    name_or_path: str,
    *,
    random_init: bool = False,
    config_overrides: Mapping[str, Any] | None = None,
    seed: int = 0,
    normalize: bool | None = None,
    device: str | torch.device | None = None,
    revision: str | None = None,
) -> Upstream:
    """Build the upstream named by ``name_or_path`` (see the module docstring for the forms).

    Args:
        name_or_path: ``"mel"``, a hub id, a local model directory, or (with ``random_init``) a family.
        random_init: draw fresh weights instead of loading them.
        config_overrides: config fields to change before the model is built.
        seed: seed of the random weights (only with ``random_init``).
        normalize: force input normalisation on or off; ``None`` follows the checkpoint.
        device: where the model runs (``"cpu"``, ``"cuda:0"``, ...); ``None`` keeps the CPU.
        revision: hub revision (branch, tag or commit) for hub ids.
    """
    overrides = _plain(dict(config_overrides or {}))
    if name_or_path == MEL_NAME:
        return _load_mel(random_init=random_init, overrides=overrides, device=device)

    source = _classify(name_or_path, random_init=random_init)
    local = source == "local"
    location = os.path.abspath(name_or_path) if local else name_or_path

    if source == "family":
        config = _build_config(FAMILY_CONFIGS[name_or_path], {}, overrides, name_or_path)
        checkpoint_normalize = None
    else:
        if local:
            _check_model_dir(location)
        base = AutoConfig.from_pretrained(location, local_files_only=local, revision=revision)
        if base.model_type not in MODEL_CLASSES:
            raise ValueError(
                f"{name_or_path}: model type {base.model_type!r} is not supported; "
                f"supported: {', '.join(MODEL_CLASSES)}"
            )
        config = _build_config(type(base), base.to_dict(), overrides, name_or_path) if overrides else base
        checkpoint_normalize = _checkpoint_do_normalize(location, local=local, revision=revision)

    model_class = MODEL_CLASSES[config.model_type]
    if random_init:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = model_class(config)
        name = f"random:{name_or_path}"
        origin: dict[str, Any] = {"source": "random", "seed": int(seed), "config_from": location}
    else:
        try:
            model = model_class.from_pretrained(
                location, config=config, dtype=torch.float32, local_files_only=local, revision=revision
            )
        except OSError as error:
            if local:
                raise ValueError(
                    f"{location} has a config.json but no loadable weights (model.safetensors or "
                    f"pytorch_model.bin written by save_pretrained): {error}"
                ) from error
            raise
        name = location
        origin = (
            {"source": "local", "path": location}
            if local
            else {
                "source": "hub",
                "id": name_or_path,
                "revision": revision,
                "commit": getattr(config, "_commit_hash", None),
            }
        )
    if normalize is None:
        normalize = checkpoint_normalize
    return HFSpeechUpstream(model, name=name, normalize=normalize, origin=origin, device=device)


def _load_mel(
    *, random_init: bool, overrides: dict[str, Any], device: str | torch.device | None
) -> MelUpstream:
    if random_init:
        raise ValueError("'mel' has no weights; random_init=True makes no sense for it")
    fields = {field.name for field in dataclasses.fields(MelSettings)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown mel setting(s) {unknown}; valid: {sorted(fields)}")
    return MelUpstream(MelSettings(**overrides), device=device)


def _classify(name_or_path: str, *, random_init: bool) -> str:
    """'family', 'local' or 'hub'; fails early for missing paths, files and families without random_init."""
    if name_or_path in FAMILY_CONFIGS:
        if not random_init:
            raise ValueError(
                f"{name_or_path!r} is a model family, not a checkpoint: pass random_init=True for a random "
                "network, or a checkpoint such as 'facebook/wav2vec2-base' or a save_pretrained directory"
            )
        return "family"
    if os.path.isdir(name_or_path):
        return "local"
    if os.path.exists(name_or_path):
        raise ValueError(
            f"{name_or_path} is a file; load_upstream expects a model directory written by save_pretrained "
            "(config.json + weights). For a fairseq wav2vec 2.0 / HuBERT .pt checkpoint use "
            "upstream=fairseq_checkpoint, or convert it once: "
            "python -m modellib_addons.fairseq_checkpoints convert IN.pt OUT_DIR"
        )
    looks_like_path = name_or_path.startswith(("/", "./", "../", "~")) or name_or_path.count("/") > 1
    if looks_like_path or not name_or_path:
        raise FileNotFoundError(f"model directory {name_or_path!r} does not exist")
    return "hub"


def _check_model_dir(path: str) -> None:
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ValueError(
            f"{path} holds no model: no config.json. Expected a directory written by save_pretrained "
            "(config.json, model.safetensors, optionally preprocessor_config.json)"
        )


def _build_config(
    config_class: type[PretrainedConfig], base: dict[str, Any], overrides: dict[str, Any], name: str
) -> PretrainedConfig:
    """``config_class`` from ``base`` fields with ``overrides`` applied; derived fields are re-derived."""
    valid = set(config_class().to_dict())
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"{name}: unknown config field(s) {unknown} for {config_class.__name__}")
    if "model_type" in overrides:
        raise ValueError(f"{name}: model_type cannot be overridden; pick another family or checkpoint")
    fields = {key: value for key, value in base.items() if key not in _DERIVED_CONFIG_KEYS}
    if "hidden_size" in overrides and fields.get("output_hidden_size") == fields.get("hidden_size"):
        fields.pop("output_hidden_size", None)
    fields.update(overrides)
    return config_class.from_dict(fields)


def _checkpoint_do_normalize(location: str, *, local: bool, revision: str | None) -> bool | None:
    """``do_normalize`` of the checkpoint's feature extractor, or None if it has none."""
    try:
        extractor = AutoFeatureExtractor.from_pretrained(location, local_files_only=local, revision=revision)
    except (OSError, ValueError, KeyError) as error:
        log.info(
            "%s: no feature-extractor config (%s); normalisation follows feat_extract_norm", location, error
        )
        return None
    value = getattr(extractor, "do_normalize", None)
    return None if value is None else bool(value)


def _plain(value: Any) -> Any:
    """Plain dicts/lists from mapping/sequence containers (e.g. OmegaConf nodes from a Hydra config)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(item) for item in value]
    return value
