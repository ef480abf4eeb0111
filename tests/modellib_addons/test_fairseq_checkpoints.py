"""fairseq checkpoints load without fairseq and give exactly the layers of the model they describe.

Fake fairseq checkpoints are written from tiny random transformers models (real wav2vec2 conv
geometry; "base": group-norm CNN + post-LN encoder, "large": layer-norm CNN + layer_norm_first) by
:func:`fairseq_weights`, which walks the transformers modules attribute by attribute and names each
tensor the way fairseq's ``Wav2Vec2Model`` / ``HubertModel`` would. It shares nothing with the
adapter's key table, and every parameter is perturbed away from its initial value (LayerNorms are
not all ones and zeros), so a wrong forward mapping -- q/k swapped, two LayerNorms exchanged, g/v
of the weight norm confused -- changes the extracted layers and fails the equality checks.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import Tensor
from transformers import HubertConfig, HubertModel, PreTrainedModel, Wav2Vec2Config, Wav2Vec2Model

from modellib_addons.fairseq_checkpoints import (
    FairseqCheckpointError,
    UnsafeCheckpointError,
    build_model,
    convert_checkpoint_dict,
    convert_fairseq_checkpoint,
    fairseq_upstream,
    load_fairseq_checkpoint,
    main,
    parse_conv_feature_layers,
)
from speechrep.upstream import HFSpeechUpstream, load_upstream
from tests.conftest import PROJECT_ROOT

LOGGER = "modellib_addons.fairseq_checkpoints"

#: Tiny widths, real wav2vec2 conv geometry (kernels 10,3,3,3,3,2,2; strides 5,2,2,2,2,2,2).
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 48,
    "conv_dim": [24] * 7,
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}
STYLES = {
    "base": {"feat_extract_norm": "group", "do_stable_layer_norm": False, "conv_bias": False},
    "large": {"feat_extract_norm": "layer", "do_stable_layer_norm": True, "conv_bias": True},
}
MODELS = {"wav2vec2": (Wav2Vec2Config, Wav2Vec2Model), "hubert": (HubertConfig, HubertModel)}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from intra-op threads; on a busy machine their sync dominates."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------------
# Fake fairseq checkpoints
# --------------------------------------------------------------------------------------------------


def tiny_model(family: str, style: str, seed: int = 0, **overrides: Any) -> PreTrainedModel:
    """A tiny transformers model whose every parameter is random (no LayerNorm left at 1/0)."""
    config_class, model_class = MODELS[family]
    torch.manual_seed(seed)
    model = model_class(config_class(**{**TINY, **STYLES[style], **overrides}))
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


def fairseq_weights(model: PreTrainedModel, *, with_projection: bool = True) -> dict[str, Tensor]:
    """The encoder weights of ``model`` under fairseq's names (inverse of the adapter, written apart)."""
    config = model.config
    weights: dict[str, Tensor] = {}

    def put(name: str, tensor: Tensor) -> None:
        weights[name] = tensor.detach().clone()

    for i, block in enumerate(model.feature_extractor.conv_layers):
        # fairseq block i: Sequential(conv, dropout, norm (GroupNorm, or Sequential(T, LayerNorm, T)), GELU)
        put(f"feature_extractor.conv_layers.{i}.0.weight", block.conv.weight)
        if config.conv_bias:
            put(f"feature_extractor.conv_layers.{i}.0.bias", block.conv.bias)
        if config.feat_extract_norm == "layer":
            put(f"feature_extractor.conv_layers.{i}.2.1.weight", block.layer_norm.weight)
            put(f"feature_extractor.conv_layers.{i}.2.1.bias", block.layer_norm.bias)
        elif i == 0:
            put("feature_extractor.conv_layers.0.2.weight", block.layer_norm.weight)
            put("feature_extractor.conv_layers.0.2.bias", block.layer_norm.bias)
    put("layer_norm.weight", model.feature_projection.layer_norm.weight)
    put("layer_norm.bias", model.feature_projection.layer_norm.bias)
    if with_projection:
        put("post_extract_proj.weight", model.feature_projection.projection.weight)
        put("post_extract_proj.bias", model.feature_projection.projection.bias)
    pos_conv = model.encoder.pos_conv_embed.conv
    put("encoder.pos_conv.0.weight_g", pos_conv.parametrizations.weight.original0)
    put("encoder.pos_conv.0.weight_v", pos_conv.parametrizations.weight.original1)
    put("encoder.pos_conv.0.bias", pos_conv.bias)
    put("encoder.layer_norm.weight", model.encoder.layer_norm.weight)
    put("encoder.layer_norm.bias", model.encoder.layer_norm.bias)
    for n, layer in enumerate(model.encoder.layers):
        prefix = f"encoder.layers.{n}."
        for projection in ("q", "k", "v", "out"):
            module = getattr(layer.attention, f"{projection}_proj")
            put(f"{prefix}self_attn.{projection}_proj.weight", module.weight)
            put(f"{prefix}self_attn.{projection}_proj.bias", module.bias)
        for fairseq_name, module in (
            ("self_attn_layer_norm", layer.layer_norm),
            ("fc1", layer.feed_forward.intermediate_dense),
            ("fc2", layer.feed_forward.output_dense),
            ("final_layer_norm", layer.final_layer_norm),
        ):
            put(f"{prefix}{fairseq_name}.weight", module.weight)
            put(f"{prefix}{fairseq_name}.bias", module.bias)
    put("mask_emb", model.masked_spec_embed)
    return weights


def pretraining_heads(family: str) -> dict[str, Tensor]:
    """Weights fairseq keeps for pretraining only (the adapter must drop them)."""
    if family == "hubert":
        return {
            "label_embs_concat": torch.randn(504, 16),
            "final_proj.weight": torch.randn(16, 32),
            "final_proj.bias": torch.randn(16),
        }
    return {
        "quantizer.vars": torch.randn(1, 640, 8),
        "quantizer.weight_proj.weight": torch.randn(640, 24),
        "quantizer.weight_proj.bias": torch.randn(640),
        "project_q.weight": torch.randn(16, 16),
        "project_q.bias": torch.randn(16),
        "final_proj.weight": torch.randn(16, 32),
        "final_proj.bias": torch.randn(16),
    }


def conv_feature_layers(model: PreTrainedModel) -> str:
    """fairseq's conv spec string in the two spellings of the released checkpoints."""
    dim = model.config.conv_dim[0]
    tail = f"[({dim},2,2)] * 2" if model.config.model_type == "hubert" else f"[({dim},2,2)] + [({dim},2,2)]"
    return f"[({dim}, 10, 5)] + [({dim}, 3, 2)] * 4 + {tail}"


def fairseq_model_config(model: PreTrainedModel) -> dict[str, Any]:
    """fairseq's model config fields for ``model`` (plus training-only noise the adapter ignores)."""
    config = model.config
    return {
        "_name": config.model_type,
        "extractor_mode": "layer_norm" if config.feat_extract_norm == "layer" else "default",
        "encoder_layers": config.num_hidden_layers,
        "encoder_embed_dim": config.hidden_size,
        "encoder_ffn_embed_dim": config.intermediate_size,
        "encoder_attention_heads": config.num_attention_heads,
        "activation_fn": "gelu",
        "layer_norm_first": config.do_stable_layer_norm,
        "conv_feature_layers": conv_feature_layers(model),
        "conv_bias": config.conv_bias,
        "conv_pos": config.num_conv_pos_embeddings,
        "conv_pos_groups": config.num_conv_pos_embedding_groups,
        "dropout": 0.1,
        "feature_grad_mult": 0.1,
        "mask_prob": 0.65,
        "latent_vars": 320,
        "layer_type": "transformer",
        "pos_conv_depth": 1,
    }


def fairseq_cfg(model: PreTrainedModel, normalize: bool) -> dict[str, Any]:
    """A hydra-era fairseq pretraining config (as plain data)."""
    hubert = model.config.model_type == "hubert"
    return {
        "_name": None,
        "common": {"fp16": True, "log_interval": 200, "seed": 1},
        "optimization": {"max_update": 400000, "lr": [0.0005], "update_freq": [1]},
        "model": fairseq_model_config(model),
        "task": {
            "_name": "hubert_pretraining" if hubert else "audio_pretraining",
            "data": "/data/manifests",
            "normalize": normalize,
            "sample_rate": 16000,
            "labels": ["km"] if hubert else None,
        },
        "criterion": {"_name": "hubert" if hubert else "wav2vec"},
    }


def training_state() -> dict[str, Any]:
    """What fairseq's trainer stores beside the model (optimizer history, metrics with numpy values)."""
    return {
        "optimizer_history": [
            {"criterion_name": "Wav2vecCriterion", "optimizer_name": "FairseqAdam", "num_updates": 400000}
        ],
        "extra_state": {
            "metrics": OrderedDict(train=OrderedDict(loss={"val": np.float64(2.5), "count": np.int64(3)})),
            "train_iterator": {"epoch": 30, "iterations_in_epoch": 0, "shuffle": True},
            "val_loss": np.float32(2.1),
            "lengths": np.arange(4),
        },
        "last_optimizer_state": {
            "state": {0: {"exp_avg": torch.zeros(3)}},
            "param_groups": [{"lr": 0.0005, "betas": (0.9, 0.98), "params": [0]}],
        },
    }


def save_pretrained_checkpoint(
    path: Path, model: PreTrainedModel, *, normalize: bool, style: str = "cfg", **weight_options: Any
) -> Path:
    """A pretraining checkpoint: ``cfg`` as an omegaconf DictConfig, or old-style ``args`` Namespace."""
    weights = {**fairseq_weights(model, **weight_options), **pretraining_heads(model.config.model_type)}
    if style == "cfg":
        cfg = OmegaConf.create(fairseq_cfg(model, normalize))
        OmegaConf.set_struct(cfg, True)
        torch.save({"args": None, "cfg": cfg, "model": weights, **training_state()}, path)
    else:  # fairseq 2020: argparse args, legacy (non-zip) torch serialisation
        args = argparse.Namespace(
            **{k: v for k, v in fairseq_model_config(model).items() if k != "_name"},
            arch=model.config.model_type,
            task="audio_pretraining",
            normalize=normalize,
            data="/data/manifests",
            lr=[0.0005],
        )
        torch.save(
            {"args": args, "model": weights, **training_state()}, path, _use_new_zipfile_serialization=False
        )
    return path


def save_fine_tuned_checkpoint(path: Path, model: PreTrainedModel, *, normalize: bool, style: str) -> Path:
    """A CTC fine-tuned checkpoint: encoder under ``w2v_encoder.w2v_model.``, pretraining cfg nested."""
    family = model.config.model_type
    weights = {f"w2v_encoder.w2v_model.{k}": v for k, v in fairseq_weights(model).items()}
    weights["w2v_encoder.proj.weight"] = torch.randn(32, model.config.hidden_size)
    weights["w2v_encoder.proj.bias"] = torch.randn(32)
    ctc_name = "hubert_ctc" if family == "hubert" else "wav2vec_ctc"
    if style == "cfg":
        cfg = OmegaConf.create(
            {
                "model": {
                    "_name": ctc_name,
                    "w2v_path": "/ckpt/pretrained.pt",
                    "normalize": normalize,
                    "apply_mask": True,
                    "w2v_args": fairseq_cfg(model, normalize),
                },
                "task": {"_name": "audio_finetuning", "normalize": normalize, "labels": "ltr"},
            }
        )
        torch.save({"args": None, "cfg": cfg, "model": weights}, path)
    else:
        pretrained_args = argparse.Namespace(
            **{k: v for k, v in fairseq_model_config(model).items() if k != "_name"},
            arch=family,
            normalize=normalize,
        )
        args = argparse.Namespace(
            arch=ctc_name, w2v_path="/ckpt/pretrained.pt", w2v_args=pretrained_args, normalize=normalize
        )
        torch.save({"args": args, "model": weights}, path, _use_new_zipfile_serialization=False)
    return path


# --------------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------------


def waves(seed: int = 0) -> list[Tensor]:
    """Two utterances of different lengths, off-centre and not unit-variance (so normalising matters)."""
    generator = torch.Generator().manual_seed(seed)
    return [0.3 + 0.05 * torch.randn(n, generator=generator) for n in (3600, 2700)]


def reference_upstream(model: PreTrainedModel, normalize: bool) -> HFSpeechUpstream:
    return HFSpeechUpstream(copy.deepcopy(model), name="reference", normalize=normalize)


def assert_same_layers(upstream: HFSpeechUpstream, reference: HFSpeechUpstream, atol: float = 1e-6) -> None:
    """Identical layer names, lengths and features (every ``cnn.*``, ``tf.*``) on the same input."""
    assert upstream.layer_names == reference.layer_names
    assert upstream.normalize == reference.normalize
    batch = waves()
    ours = upstream(batch, upstream.layer_names)
    theirs = reference(batch, reference.layer_names)
    for layer in reference.layer_names:
        assert torch.equal(ours.lengths[layer], theirs.lengths[layer]), layer
        torch.testing.assert_close(
            ours.hidden_states[layer], theirs.hidden_states[layer], atol=atol, rtol=0, msg=layer
        )


def assert_same_weights(model: PreTrainedModel, reference: PreTrainedModel) -> None:
    ours, theirs = model.state_dict(), reference.state_dict()
    assert set(ours) == set(theirs)
    for key, tensor in theirs.items():
        assert torch.equal(ours[key], tensor), key


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["base", "large"])
@pytest.mark.parametrize("family", ["wav2vec2", "hubert"])
def test_pretrained_checkpoint_with_omegaconf_cfg(tmp_path, caplog, family, style):
    model = tiny_model(family, style)
    normalize = style == "large"
    path = save_pretrained_checkpoint(tmp_path / f"{family}_{style}.pt", model, normalize=normalize)
    caplog.set_level(logging.INFO, logger=LOGGER)

    upstream = fairseq_upstream(path)

    assert isinstance(upstream, HFSpeechUpstream)
    assert upstream.model.config.model_type == family
    assert upstream.name == str(path.resolve())
    assert upstream.origin["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert upstream.origin["source"] == "fairseq" and upstream.origin["fine_tuned"] is False
    assert upstream.layer_names[:8] == [f"cnn.{k}" for k in range(7)] + ["tf.0"]
    assert_same_weights(upstream.model, model)
    assert_same_layers(upstream, reference_upstream(model, normalize))
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1
    for key in pretraining_heads(family):
        assert key in dropped[0]


@pytest.mark.parametrize("style", ["base", "large"])
def test_old_argparse_checkpoint_in_legacy_format(tmp_path, style):
    model = tiny_model("wav2vec2", style, seed=3)
    path = save_pretrained_checkpoint(tmp_path / "wav2vec_small.pt", model, normalize=False, style="args")
    loaded, normalize = load_fairseq_checkpoint(path)
    assert normalize is False
    assert isinstance(loaded, Wav2Vec2Model) and not loaded.training
    assert_same_weights(loaded, model)
    assert_same_layers(HFSpeechUpstream(loaded, normalize=normalize), reference_upstream(model, False))


@pytest.mark.parametrize(
    ("family", "style", "config_style"),
    [("wav2vec2", "base", "cfg"), ("hubert", "large", "cfg"), ("wav2vec2", "large", "args")],
)
def test_fine_tuned_ctc_checkpoint_gives_its_encoder(tmp_path, caplog, family, style, config_style):
    model = tiny_model(family, style, seed=5)
    path = save_fine_tuned_checkpoint(tmp_path / "ft.pt", model, normalize=True, style=config_style)
    caplog.set_level(logging.INFO, logger=LOGGER)
    upstream = fairseq_upstream(path)
    assert upstream.model.config.model_type == family
    assert upstream.origin["fine_tuned"] is True
    assert upstream.normalize is True
    assert_same_weights(upstream.model, model)
    assert_same_layers(upstream, reference_upstream(model, True))
    assert any("w2v_encoder.proj.weight" in r.getMessage() for r in caplog.records)


def test_normalize_flag_is_honoured(tmp_path):
    model = tiny_model("wav2vec2", "base", seed=7)
    on = fairseq_upstream(save_pretrained_checkpoint(tmp_path / "on.pt", model, normalize=True))
    off = fairseq_upstream(save_pretrained_checkpoint(tmp_path / "off.pt", model, normalize=False))
    assert on.normalize is True and off.normalize is False
    assert_same_layers(on, reference_upstream(model, True))
    assert_same_layers(off, reference_upstream(model, False))
    # The flag changes the features (the test waves are far from zero mean / unit variance) ...
    batch = waves()
    assert not torch.allclose(
        on(batch, ["tf.1"]).hidden_states["tf.1"], off(batch, ["tf.1"]).hidden_states["tf.1"]
    )
    # ... and an explicit setting wins over the checkpoint's.
    assert fairseq_upstream(tmp_path / "on.pt", normalize=False).normalize is False


@pytest.mark.parametrize("pos_conv", ["weight_norm", "plain_weight"])
def test_absent_post_extract_proj_and_plain_pos_conv_weight(tmp_path, pos_conv):
    """fairseq omits post_extract_proj when conv and encoder widths agree; some files store the
    positional conv without weight norm. Both still give the same model."""
    model = tiny_model("wav2vec2", "base", seed=9, conv_dim=[32] * 7)
    with torch.no_grad():
        model.feature_projection.projection.weight.copy_(torch.eye(32))
        model.feature_projection.projection.bias.zero_()
    weights = fairseq_weights(model, with_projection=False)
    if pos_conv == "plain_weight":
        del weights["encoder.pos_conv.0.weight_g"], weights["encoder.pos_conv.0.weight_v"]
        weights["encoder.pos_conv.0.weight"] = model.encoder.pos_conv_embed.conv.weight.detach().clone()
    cfg = OmegaConf.create(fairseq_cfg(model, normalize=False))
    torch.save({"cfg": cfg, "model": weights}, tmp_path / "x.pt")
    assert_same_layers(fairseq_upstream(tmp_path / "x.pt"), reference_upstream(model, False), atol=1e-5)


# --------------------------------------------------------------------------------------------------
# conv_feature_layers
# --------------------------------------------------------------------------------------------------

BASE_CONV = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2


@pytest.mark.parametrize(
    "spec",
    [
        "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]",  # wav2vec2 / XLSR
        "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2",  # HuBERT
        " [ (512,10,5), ] + 4 * [(512,3,2)] + [(512,2,2),(512,2,2),]\n",
        BASE_CONV,
    ],
)
def test_conv_feature_layers_parser_reads_the_real_strings(spec):
    assert parse_conv_feature_layers(spec) == BASE_CONV


@pytest.mark.parametrize(
    "spec",
    [
        "__import__('os').system('true')",
        "[(512, 10, 5)] + eval('[]')",
        "[(512, 10)]",
        "[(512, 10, 5, 1)]",
        "[(512, 10, 5)] * 2.5",
        "[(512, 10, 5)] - [(512, 3, 2)]",
        "[(512, 10, 5)] +",
        "[(512, 10, 5)] * 10**12",
        "[(0, 10, 5)]",
        "[]",
        "",
    ],
)
def test_conv_feature_layers_parser_rejects_anything_else(spec):
    with pytest.raises(ValueError, match="conv_feature_layers"):
        parse_conv_feature_layers(spec)


# --------------------------------------------------------------------------------------------------
# Safety and unsupported files
# --------------------------------------------------------------------------------------------------


class SneakyDict(OrderedDict):
    """An innocent-looking class from outside the allowlist: unpickling it means importing this module."""


class RunsCommand:
    """Unpickles to ``os.system(command)``: the classic malicious pickle."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


@pytest.mark.parametrize("legacy", [False, True])
def test_checkpoint_with_foreign_class_is_refused(tmp_path, legacy):
    model = tiny_model("wav2vec2", "base")
    path = tmp_path / "sneaky.pt"
    torch.save(
        {
            "cfg": OmegaConf.create(fairseq_cfg(model, False)),
            "model": fairseq_weights(model),
            "x": SneakyDict(a=1),
        },
        path,
        _use_new_zipfile_serialization=not legacy,
    )
    with pytest.raises(UnsafeCheckpointError, match="SneakyDict") as error:
        fairseq_upstream(path)
    assert str(path) in str(error.value)


def test_checkpoint_that_would_run_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "args": RunsCommand(f"touch {marker}")}, path)
    with pytest.raises(UnsafeCheckpointError, match="system") as error:
        load_fairseq_checkpoint(path)
    assert str(path) in str(error.value)
    assert not marker.exists()


def test_unreadable_files_fail_with_the_file_name(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint at all" * 10)
    with pytest.raises(FairseqCheckpointError, match=r"garbage\.pt"):
        fairseq_upstream(garbage)
    no_model = tmp_path / "no_model.pt"
    torch.save({"weights": {}}, no_model)
    with pytest.raises(FairseqCheckpointError, match="'model' state dict"):
        fairseq_upstream(no_model)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        fairseq_upstream(tmp_path / "missing.pt")


def _checkpoint(model: PreTrainedModel, **model_fields: Any) -> dict[str, Any]:
    cfg = fairseq_cfg(model, False)
    cfg["model"].update(model_fields)
    return {"cfg": cfg, "model": fairseq_weights(model)}


def test_unsupported_checkpoints_fail_clearly():
    model = tiny_model("wav2vec2", "base")
    cases = {
        "data2vec": _checkpoint(model, _name="data2vec_audio"),
        "conformer": _checkpoint(model, layer_type="conformer"),
        "extractor_mode": _checkpoint(model, extractor_mode="batch_norm"),
        "conv_feature_layers": _checkpoint(model, conv_feature_layers="[(24, 10, 5)] * n"),
    }
    wavlm = {"cfg": {"extractor_mode": "default", "relative_position_embedding": True}, "model": {}}
    cases["WavLM"] = wavlm
    extra = _checkpoint(model)
    extra["model"]["encoder.layers.0.self_attn.relative_attention_bias.weight"] = torch.zeros(320, 2)
    cases["not part of a wav2vec 2.0 / HuBERT encoder"] = extra
    fine_tuned = {"cfg": {"model": {"_name": "wav2vec_ctc", "w2v_path": "/x.pt"}}, "model": {}}
    cases["w2v_args"] = fine_tuned
    for expected, checkpoint in cases.items():
        with pytest.raises(FairseqCheckpointError, match=expected) as error:
            convert_checkpoint_dict(checkpoint, source="/ckpt/model.pt")
        assert "/ckpt/model.pt" in str(error.value)


def test_shape_mismatch_between_config_and_weights_is_reported():
    model = tiny_model("wav2vec2", "base")
    checkpoint = _checkpoint(model, encoder_ffn_embed_dim=64)
    converted = convert_checkpoint_dict(checkpoint, source="/ckpt/model.pt")
    with pytest.raises(FairseqCheckpointError, match="do not fit"):
        build_model(converted)


# --------------------------------------------------------------------------------------------------
# Conversion, CLI and Hydra config
# --------------------------------------------------------------------------------------------------


def test_convert_then_load_upstream_gives_the_same_features(tmp_path):
    model = tiny_model("hubert", "large", seed=11)
    path = save_pretrained_checkpoint(tmp_path / "hubert_large_ll60k.pt", model, normalize=True)
    out = convert_fairseq_checkpoint(path, tmp_path / "converted")

    assert {"config.json", "model.safetensors", "preprocessor_config.json", "fairseq_source.json"} <= {
        p.name for p in out.iterdir()
    }
    assert json.loads((out / "preprocessor_config.json").read_text())["do_normalize"] is True
    provenance = json.loads((out / "fairseq_source.json").read_text())
    assert provenance["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "label_embs_concat" in provenance["dropped_weights"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".converted")]  # no staging left

    converted = load_upstream(str(out))
    assert converted.normalize is True
    assert_same_weights(converted.model, model)
    assert_same_layers(converted, fairseq_upstream(path))

    with pytest.raises(FileExistsError, match="not empty"):
        convert_fairseq_checkpoint(path, out)
    convert_fairseq_checkpoint(path, out, overwrite=True)
    assert (out / "model.safetensors").is_file()


def test_cli_convert(tmp_path, capsys):
    model = tiny_model("wav2vec2", "base")
    path = save_pretrained_checkpoint(tmp_path / "in.pt", model, normalize=False)
    assert main(["convert", str(path), str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out")
    assert load_upstream(str(tmp_path / "out")).normalize is False
    assert main(["convert", str(tmp_path / "missing.pt"), str(tmp_path / "out2")]) == 1
    assert "missing.pt" in capsys.readouterr().err


def test_hydra_upstream_config_instantiates(tmp_path):
    cfg = OmegaConf.load(PROJECT_ROOT / "configs" / "upstream" / "fairseq_checkpoint.yaml")
    assert OmegaConf.is_missing(cfg, "path")
    model = tiny_model("wav2vec2", "large")
    cfg.path = str(save_pretrained_checkpoint(tmp_path / "xlsr.pt", model, normalize=True))
    upstream = instantiate(cfg)
    assert isinstance(upstream, HFSpeechUpstream)
    assert upstream.name == cfg.path and upstream.normalize is True
