"""fairseq wav2vec 2.0 / XLS(-R) / HuBERT checkpoints as transformers models and speechrep upstreams.

Why this exists
---------------
Layer-wise analysis studies were run on fairseq ``.pt`` files (``wav2vec_small.pt``,
``wav2vec_vox_new.pt``/``libri960_big.pt``, ``hubert_base_ls960.pt``, ``hubert_large_ll60k.pt``,
``xlsr_53_56k.pt``, ``xls_r_300m.pt``, and their CTC fine-tuned versions). speechrep extracts
layers from transformers models (:class:`speechrep.upstream.HFSpeechUpstream`), so this module
translates such a file into the equivalent ``Wav2Vec2Model`` / ``HubertModel`` -- weights and
architecture -- without importing fairseq and without unpickling anything but data. The layers then
mean exactly what they mean for hub checkpoints: ``cnn.k`` (conv block outputs), ``tf.0`` (encoder
input after the positional conv), ``tf.k`` (output of block ``k``; for ``layer_norm_first`` models
``tf.L`` is fairseq's ``layer_results[L]``, before the final LayerNorm) and ``tf.final``.

Reading safely
--------------
The file is read with ``torch.load(weights_only=True)`` only. fairseq stores its configuration as
an ``argparse.Namespace`` (``args``, older files) or an omegaconf ``DictConfig`` (``cfg``), and its
training state may hold numpy scalars; those few harmless classes (:func:`safe_globals`) are
allowlisted for the duration of the load. Anything else a pickle names (a class from another
package, a function) is refused and reported with the file name (:class:`UnsafeCheckpointError`).

What is converted
-----------------
Config (``cfg.model`` / ``args``, fairseq's defaults for missing fields):

=========================  ===================================================================
fairseq                    transformers
=========================  ===================================================================
extractor_mode             feat_extract_norm: ``default`` -> ``group``, ``layer_norm`` -> ``layer``
conv_feature_layers        conv_dim / conv_kernel / conv_stride (:func:`parse_conv_feature_layers`)
conv_bias                  conv_bias
encoder_layers             num_hidden_layers
encoder_embed_dim          hidden_size
encoder_ffn_embed_dim      intermediate_size
encoder_attention_heads    num_attention_heads
activation_fn              hidden_act (``gelu_fast``/``gelu_accurate`` -> ``gelu_new``)
layer_norm_first           do_stable_layer_norm
conv_pos, conv_pos_groups  num_conv_pos_embeddings, num_conv_pos_embedding_groups
task.normalize             the upstream's ``normalize`` (``do_normalize`` when converted)
=========================  ===================================================================

Training-only settings (dropout, masking, layerdrop) are not carried over: an upstream is a frozen
feature extractor and :class:`~speechrep.upstream.HFSpeechUpstream` switches them off anyway.

Weights (fine-tuned checkpoints: the same names under ``w2v_encoder.w2v_model.``, with the
pretraining config in ``cfg.model.w2v_args``; the CTC head and other weights outside the encoder
are dropped):

==========================================  ==========================================================
fairseq                                     transformers
==========================================  ==========================================================
feature_extractor.conv_layers.i.0           feature_extractor.conv_layers.i.conv
feature_extractor.conv_layers.0.2           feature_extractor.conv_layers.0.layer_norm (GroupNorm)
feature_extractor.conv_layers.i.2.1         feature_extractor.conv_layers.i.layer_norm (``layer_norm``)
layer_norm                                  feature_projection.layer_norm
post_extract_proj                           feature_projection.projection (identity if absent)
encoder.pos_conv.0.weight_g / weight_v      encoder.pos_conv_embed.conv.parametrizations.weight
                                            .original0 / .original1
encoder.pos_conv.0.bias                     encoder.pos_conv_embed.conv.bias
encoder.layer_norm                          encoder.layer_norm
encoder.layers.n.self_attn.{q,k,v,out}_proj encoder.layers.n.attention.{q,k,v,out}_proj
encoder.layers.n.self_attn_layer_norm       encoder.layers.n.layer_norm
encoder.layers.n.fc1 / fc2                  encoder.layers.n.feed_forward.intermediate_dense / output_dense
encoder.layers.n.final_layer_norm           encoder.layers.n.final_layer_norm
mask_emb                                    masked_spec_embed
==========================================  ==========================================================

Pretraining-only weights (``quantizer``, ``project_q``, ``final_proj``, ``label_embs_concat``, ...)
are dropped and listed in a log line. Any other weight is an error: the file is then not a plain
wav2vec 2.0 / HuBERT encoder (data2vec-audio, WavLM from unilm, conformer encoders, AV-HuBERT,
wav2vec 1.0 are not supported).

Entry points: :func:`fairseq_upstream` (an upstream straight from the ``.pt``),
:func:`load_fairseq_checkpoint` (the transformers model + normalize flag),
:func:`convert_fairseq_checkpoint` (a ``save_pretrained`` directory that
:func:`speechrep.upstream.load_upstream` reads) and the CLI
``python -m modellib_addons.fairseq_checkpoints convert IN.pt OUT_DIR``.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import pickle
import re
import shutil
import sys
import typing
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.base import ContainerMetadata, Metadata
from omegaconf.nodes import AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode
from torch import Tensor
from transformers import (
    HubertConfig,
    PretrainedConfig,
    PreTrainedModel,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
)

from speechrep.upstream.hf import MODEL_CLASSES, HFSpeechUpstream
from speechrep.utils.hashing import file_sha256

#: The module's import name (also when run as ``python -m``), for logs and provenance.
MODULE_NAME = "modellib_addons.fairseq_checkpoints"

log = logging.getLogger(MODULE_NAME)

#: Bumped whenever the translation changes, so feature caches keyed on the upstream's origin
#: are invalidated.
CONVERTER_VERSION = 1

#: The sample rate of every supported model (and of speechrep upstreams).
SAMPLE_RATE = 16_000

#: fairseq's own defaults (``Wav2Vec2Config`` / ``HubertConfig`` dataclasses and the old argparse
#: defaults) for the fields read here, used when a checkpoint's config omits one.
FAIRSEQ_DEFAULTS: dict[str, Any] = {
    "extractor_mode": "default",
    "conv_feature_layers": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]",
    "conv_bias": False,
    "encoder_layers": 12,
    "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12,
    "activation_fn": "gelu",
    "layer_norm_first": False,
    "conv_pos": 128,
    "conv_pos_groups": 16,
    "normalize": False,
}

_EXTRACTOR_MODES = {"default": "group", "layer_norm": "layer"}
_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_fast": "gelu_new",
    "gelu_accurate": "gelu_new",
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
    "swish": "swish",
}
_CONFIG_CLASSES: dict[str, type[PretrainedConfig]] = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig}
#: fairseq model / arch names of fine-tuned wrappers around a pretrained encoder.
_FINE_TUNED_NAMES = {"wav2vec_ctc", "wav2vec_seq2seq", "hubert_ctc", "hubert_seq2seq"}
#: Known fairseq-family models that are not plain wav2vec 2.0 / HuBERT encoders.
_UNSUPPORTED_NAMES = {
    "data2vec_audio": "data2vec-audio (use transformers' facebook/data2vec-audio-* checkpoints instead)",
    "wav2vec": "wav2vec 1.0 (a convolutional model without a transformer)",
    "wavlm": "WavLM (use transformers' microsoft/wavlm-* checkpoints instead)",
    "av_hubert": "AV-HuBERT (audio-visual front-end)",
    "av_hubert_seq2seq": "AV-HuBERT (audio-visual front-end)",
}
#: Where the encoder's weights sit in fine-tuned checkpoints (CTC, then seq2seq).
_FINE_TUNED_PREFIXES = ("w2v_encoder.w2v_model.", "encoder.w2v_model.")
#: Weights that only pretraining uses (quantiser, target projections, HuBERT's label embeddings).
_PRETRAINING_ONLY = re.compile(
    r"(quantizer|input_quantizer|project_q|project_inp|final_proj|label_embs_concat|target_glu)(\.|$)"
)

_POS_CONV = "encoder.pos_conv_embed.conv."
_KEY_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (
            r"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)",
            r"feature_extractor.conv_layers.\1.conv.\2",
        ),
        (
            r"feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)",
            r"feature_extractor.conv_layers.\1.layer_norm.\2",
        ),
        (
            r"feature_extractor\.conv_layers\.0\.2\.(weight|bias)",
            r"feature_extractor.conv_layers.0.layer_norm.\1",
        ),
        (r"layer_norm\.(weight|bias)", r"feature_projection.layer_norm.\1"),
        (r"post_extract_proj\.(weight|bias)", r"feature_projection.projection.\1"),
        (
            r"encoder\.pos_conv\.0\.(?:weight_g|parametrizations\.weight\.original0)",
            _POS_CONV + "parametrizations.weight.original0",
        ),
        (
            r"encoder\.pos_conv\.0\.(?:weight_v|parametrizations\.weight\.original1)",
            _POS_CONV + "parametrizations.weight.original1",
        ),
        (r"encoder\.pos_conv\.0\.bias", _POS_CONV + "bias"),
        (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
        (
            r"encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj\.(weight|bias)",
            r"encoder.layers.\1.attention.\2_proj.\3",
        ),
        (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.layer_norm.\2"),
        (
            r"encoder\.layers\.(\d+)\.fc1\.(weight|bias)",
            r"encoder.layers.\1.feed_forward.intermediate_dense.\2",
        ),
        (r"encoder\.layers\.(\d+)\.fc2\.(weight|bias)", r"encoder.layers.\1.feed_forward.output_dense.\2"),
        (
            r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)",
            r"encoder.layers.\1.final_layer_norm.\2",
        ),
        (r"mask_emb", "masked_spec_embed"),
    )
)


class FairseqCheckpointError(ValueError):
    """A fairseq checkpoint that cannot be read or translated; the message names the file."""


class UnsafeCheckpointError(FairseqCheckpointError):
    """The checkpoint's pickle names a class or function outside :func:`safe_globals`."""


# --------------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------------


def safe_globals() -> list[Any]:
    """The classes a fairseq checkpoint may pickle besides tensors and builtin containers.

    Each one only stores data when unpickled: ``argparse.Namespace`` (old ``args``), omegaconf's
    containers, value nodes and metadata with the ``typing`` markers and builtin types they record
    (new ``cfg``), ``collections.defaultdict`` (omegaconf's resolver cache), and numpy scalars,
    arrays and numeric dtypes (training statistics in ``extra_state``). Entries given as
    ``(object, "module.name")`` cover names under which older library versions pickled them.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    numpy_entries: list[Any] = [np.ndarray, np.dtype]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        numpy_entries += [
            (multiarray._reconstruct, f"{module}._reconstruct"),
            (multiarray.scalar, f"{module}.scalar"),
        ]
    numpy_entries += sorted({type(np.dtype(code)) for code in "?bBhHiIlLqQefdFD"}, key=lambda t: t.__name__)
    return [
        argparse.Namespace,
        DictConfig,
        ListConfig,
        ContainerMetadata,
        Metadata,
        AnyNode,
        StringNode,
        IntegerNode,
        FloatNode,
        BooleanNode,
        (typing.Any, "typing.Any"),
        (typing.Dict, "typing.Dict"),  # noqa: UP006 -- the object omegaconf pickles for dict ref types
        (typing.List, "typing.List"),  # noqa: UP006
        collections.defaultdict,
        dict,
        list,
        int,
        float,
        str,
        bool,
        *numpy_entries,
    ]


def _allowed_names() -> set[str]:
    names = set()
    for entry in safe_globals():
        if isinstance(entry, tuple):
            names.add(entry[1])
        else:
            names.add(f"{entry.__module__}.{entry.__qualname__}")
    return names


def read_fairseq_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's top-level dict, read with ``torch.load(weights_only=True)`` on the CPU.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: the pickle names something outside :func:`safe_globals`.
        FairseqCheckpointError: not a torch checkpoint, or no ``model`` state dict in it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"fairseq checkpoint {path} does not exist or is not a file")
    try:
        with torch.serialization.safe_globals(safe_globals()):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if _REFUSED.search(str(error)):
            raise UnsafeCheckpointError(_refusal_message(path, error)) from error
        raise FairseqCheckpointError(f"{path}: not a readable torch checkpoint ({_reason(error)})") from error
    except Exception as error:  # a damaged or foreign file fails anywhere inside the unpickler
        raise FairseqCheckpointError(
            f"{path}: not a readable torch checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("model"), Mapping):
        found = sorted(map(str, checkpoint)) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise FairseqCheckpointError(
            f"{path}: not a fairseq checkpoint: expected a dict with a 'model' state dict, found {found}"
        )
    not_tensors = sorted(k for k, v in checkpoint["model"].items() if not isinstance(v, Tensor))
    if not_tensors:
        raise FairseqCheckpointError(f"{path}: 'model' holds non-tensor entries {not_tensors[:5]}")
    return dict(checkpoint)


#: torch's weights_only messages for a pickle that asks to import or call something not allowed.
_REFUSED = re.compile(r"GLOBAL|reduce for unrecognized function|create new object|Can only build")


def _reason(error: Exception) -> str:
    """The unpickler's own one-line reason inside torch's long weights_only message."""
    text = str(error)
    match = re.search(r"WeightsUnpickler error:\s*(\S.*)", text)
    if match:
        reason = match.group(1)
    else:
        generic = ("Weights only load failed", "Check the documentation", "(1)", "(2)")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = next((line for line in lines if not line.startswith(generic)), text.strip())
    # torch's advice to allowlist the global is not ours to give: keep only what was refused.
    return reason.split(" Please use `torch.serialization")[0].strip() or type(error).__name__


def _refusal_message(path: Path, error: pickle.UnpicklingError) -> str:
    """Why torch refused the file, with every disallowed global we can name."""
    reason = _reason(error)
    refused = re.findall(r"GLOBAL ([\w.]+)", reason)
    try:  # zip-format files can be scanned for all of them without unpickling
        allowed = _allowed_names()
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        refused += [name for name in found if name not in allowed and name not in refused]
    except Exception as scan_error:  # legacy (non-zip) files cannot be scanned; the first one is named
        log.debug("%s: could not list the globals of the checkpoint: %s", path, scan_error)
    what = f"it names {', '.join(refused)}" if refused else "its pickle asks for more than data"
    return (
        f"{path}: refused to load this checkpoint: {what}, which is not among the harmless types a "
        "fairseq checkpoint may contain (tensors, builtin containers and numbers, argparse.Namespace, "
        "omegaconf configs, numpy scalars/arrays). Unpickling it could run code named by the file, so "
        "it is only ever read with torch.load(weights_only=True). If you made the file yourself and "
        "trust it, re-save just its 'model' state dict and 'cfg' (as plain dicts) and load that. "
        f"torch said: {reason}"
    )


# --------------------------------------------------------------------------------------------------
# conv_feature_layers
# --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+)|([\[\]\(\),+*]))")
_MAX_CONV_LAYERS = 64


def parse_conv_feature_layers(spec: str | Sequence[Sequence[int]]) -> list[tuple[int, int, int]]:
    """``(dim, kernel, stride)`` per conv block from fairseq's ``conv_feature_layers`` string.

    fairseq evaluates this string as Python; here only its list-expression grammar is accepted::

        expr  := term ("+" term)*
        term  := list ("*" INT)* | INT "*" term
        list  := "[" [tuple ("," tuple)* [","]] "]"
        tuple := "(" INT "," INT "," INT [","] ")"

    e.g. ``"[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2"``. A list of triples is accepted
    as is. Anything else (names, calls, other numbers) raises a ValueError quoting the string.
    """
    if not isinstance(spec, str):
        try:
            layers = [tuple(int(v) for v in layer) for layer in spec]
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"conv_feature_layers {spec!r} is not a list of (dim, kernel, stride)"
            ) from error
        return _check_conv_layers(layers, repr(spec))
    return _check_conv_layers(_ConvSpecParser(spec).parse(), repr(spec))


def _check_conv_layers(layers: list[tuple[int, ...]], shown: str) -> list[tuple[int, int, int]]:
    if not layers:
        raise ValueError(f"conv_feature_layers {shown} describes no conv layer")
    for layer in layers:
        if len(layer) != 3 or min(layer) < 1:
            raise ValueError(
                f"conv_feature_layers {shown}: {layer} is not a (dim, kernel, stride) triple of positive ints"
            )
    return [(int(d), int(k), int(s)) for d, k, s in layers]


class _ConvSpecParser:
    """Recursive-descent parser for the grammar of :func:`parse_conv_feature_layers`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, int]] = []  # (token, position)
        position = 0
        stripped_end = len(text.rstrip())
        while position < stripped_end:
            match = _TOKEN.match(text, position)
            if match is None:
                offending = len(text) - len(text[position:].lstrip())
                self._fail(f"unexpected character {text[offending]!r}", offending)
            self.tokens.append((match.group(1) or match.group(2), match.start(match.lastindex)))
            position = match.end()
        self.index = 0

    def _fail(self, expected: str, position: int | None = None) -> typing.NoReturn:
        if position is None:
            position = self.tokens[self.index][1] if self.index < len(self.tokens) else len(self.text)
        raise ValueError(
            f"cannot parse conv_feature_layers {self.text!r}: {expected} at character {position}; "
            "it must be a list expression like '[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2'"
        )

    def _peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def _take(self, token: str) -> None:
        if self._peek() != token:
            self._fail(f"expected {token!r}")
        self.index += 1

    def _int(self) -> int:
        token = self._peek()
        if token is None or not token.isdigit():
            self._fail("expected an integer")
        self.index += 1
        return int(token)

    def parse(self) -> list[tuple[int, ...]]:
        layers = self._term()
        while self._peek() == "+":
            self.index += 1
            layers = layers + self._term()
            self._check_size(len(layers))
        if self._peek() is not None:
            self._fail(f"unexpected {self._peek()!r}")
        return layers

    def _check_size(self, size: int) -> None:
        if size > _MAX_CONV_LAYERS:
            self._fail(f"more than {_MAX_CONV_LAYERS} conv layers")

    def _term(self) -> list[tuple[int, ...]]:
        token = self._peek()
        if token is not None and token.isdigit():
            count = self._int()
            self._take("*")
            layers = self._term()
            self._check_size(len(layers) * count)
            return layers * count
        layers = self._list()
        while self._peek() == "*":
            self.index += 1
            count = self._int()
            self._check_size(len(layers) * count)
            layers = layers * count
        return layers

    def _list(self) -> list[tuple[int, ...]]:
        self._take("[")
        layers: list[tuple[int, ...]] = []
        while self._peek() != "]":
            layers.append(self._tuple())
            if self._peek() == ",":
                self.index += 1
            elif self._peek() != "]":
                self._fail("expected ',' or ']'")
        self._take("]")
        return layers

    def _tuple(self) -> tuple[int, ...]:
        self._take("(")
        values = [self._int()]
        for _ in range(2):
            self._take(",")
            values.append(self._int())
        if self._peek() == ",":
            self.index += 1
        self._take(")")
        return tuple(values)


# --------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Plain dicts/lists/scalars from omegaconf containers and Namespaces (interpolations unresolved)."""
    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value, resolve=False)
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


_REFERENCE = re.compile(r"\$\{([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\}")


class _Section:
    """One config section (a model or task config, or a flat ``args``) with typed, defaulted reads.

    Values of the form ``${a.b}`` are followed inside ``root`` (fairseq's ``II("task.normalize")``
    references, when a config was saved unresolved); no other interpolation is evaluated.
    """

    def __init__(self, data: Mapping[str, Any], root: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.root = root
        self.where = where

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        for _ in range(8):
            if not isinstance(value, str) or "${" not in value:
                break
            match = _REFERENCE.fullmatch(value)
            if match is None:
                raise FairseqCheckpointError(f"{self.where}: cannot resolve {key}={value!r}")
            node: Any = self.root
            for part in match.group(1).split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            value = node
        return default if value is None else value

    def integer(self, key: str) -> int:
        value = self.get(key, FAIRSEQ_DEFAULTS.get(key))
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise FairseqCheckpointError(f"{self.where}: {key}={value!r} is not a non-negative integer")
        return int(value)

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self.get(key, FAIRSEQ_DEFAULTS.get(key) if default is None else default)
        if isinstance(value, bool | int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise FairseqCheckpointError(f"{self.where}: {key}={value!r} is not a boolean")

    def text(self, key: str) -> str:
        value = self.get(key, FAIRSEQ_DEFAULTS.get(key))
        if not isinstance(value, str):
            raise FairseqCheckpointError(f"{self.where}: {key}={value!r} is not a string")
        return value


def _sections(config: Mapping[str, Any], where: str) -> tuple[_Section, _Section]:
    """(model, task) sections of a hydra-style ``cfg`` or of a flat ``args`` (both sections the same)."""
    if isinstance(config.get("model"), Mapping):
        task = config.get("task")
        return (
            _Section(config["model"], config, f"{where} cfg.model"),
            _Section(task if isinstance(task, Mapping) else {}, config, f"{where} cfg.task"),
        )
    flat = _Section(config, config, f"{where} args")
    return flat, flat


def _checkpoint_config(checkpoint: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The checkpoint's config as plain data: ``cfg`` if it has a model config, else ``args``."""
    cfg = _plain(checkpoint.get("cfg"))
    if isinstance(cfg, Mapping) and isinstance(cfg.get("model"), Mapping):
        return dict(cfg)
    args = _plain(checkpoint.get("args"))
    if isinstance(args, Mapping) and args:
        return dict(args)
    if isinstance(cfg, Mapping) and cfg:
        if "relative_position_embedding" in cfg or "gru_rel_pos" in cfg:
            raise FairseqCheckpointError(
                f"{source}: looks like a WavLM checkpoint from microsoft/unilm, which is not supported; "
                "use transformers' microsoft/wavlm-base(-plus)/wavlm-large checkpoints instead"
            )
        return dict(cfg)  # a flat config saved outside fairseq's trainer
    raise FairseqCheckpointError(
        f"{source}: the checkpoint has no model configuration (neither 'cfg' with a 'model' section "
        "nor 'args'), so its architecture cannot be known"
    )


def _model_name(model: _Section) -> str | None:
    name = model.get("_name") or model.get("arch")
    return str(name) if name is not None else None


def _family(name: str | None, keys: Sequence[str], source: str) -> str:
    """``wav2vec2`` or ``hubert`` (the transformers model type) from fairseq's model name."""
    if name is None:
        family = "hubert" if any(key.endswith("label_embs_concat") for key in keys) else "wav2vec2"
        log.info("%s: the config names no model; treating it as %s from its weights", source, family)
        return family
    if name in ("wav2vec2", "hubert"):
        return name
    hint = _UNSUPPORTED_NAMES.get(name)
    raise FairseqCheckpointError(
        f"{source}: model {name!r} is "
        + (f"{hint}, which is not supported" if hint else "not a wav2vec 2.0 or HuBERT model")
        + "; supported: fairseq wav2vec2 (incl. XLSR/XLS-R) and hubert checkpoints, pretrained or "
        "CTC fine-tuned"
    )


def _hf_config(family: str, model: _Section, source: str) -> PretrainedConfig:
    """The transformers config equivalent to fairseq's model config (see the module docstring)."""
    layer_type = model.get("layer_type", "transformer")
    if layer_type != "transformer":
        raise FairseqCheckpointError(
            f"{source}: layer_type={layer_type!r} is not supported (only 'transformer')"
        )
    if int(model.get("pos_conv_depth", 1)) != 1:
        raise FairseqCheckpointError(
            f"{source}: pos_conv_depth={model.get('pos_conv_depth')} (stacked positional convolutions, as in "
            "data2vec) is not supported"
        )
    if model.flag("quantize_input", default=False):
        raise FairseqCheckpointError(
            f"{source}: quantize_input=True (quantised encoder input) is not supported"
        )
    mode = model.text("extractor_mode")
    if mode not in _EXTRACTOR_MODES:
        raise FairseqCheckpointError(
            f"{source}: extractor_mode={mode!r} is unknown; expected one of {sorted(_EXTRACTOR_MODES)}"
        )
    activation = model.text("activation_fn")
    if activation not in _ACTIVATIONS:
        raise FairseqCheckpointError(
            f"{source}: activation_fn={activation!r} is not supported; expected one of {sorted(_ACTIVATIONS)}"
        )
    try:
        conv_layers = parse_conv_feature_layers(
            model.get("conv_feature_layers", FAIRSEQ_DEFAULTS["conv_feature_layers"])
        )
    except ValueError as error:
        raise FairseqCheckpointError(f"{source}: {error}") from error
    fields: dict[str, Any] = {
        "conv_dim": [dim for dim, _, _ in conv_layers],
        "conv_kernel": [kernel for _, kernel, _ in conv_layers],
        "conv_stride": [stride for _, _, stride in conv_layers],
        "conv_bias": model.flag("conv_bias"),
        "feat_extract_norm": _EXTRACTOR_MODES[mode],
        "feat_extract_activation": "gelu",  # fairseq's conv blocks and positional conv use exact GELU
        "hidden_size": model.integer("encoder_embed_dim"),
        "num_hidden_layers": model.integer("encoder_layers"),
        "intermediate_size": model.integer("encoder_ffn_embed_dim"),
        "num_attention_heads": model.integer("encoder_attention_heads"),
        "hidden_act": _ACTIVATIONS[activation],
        "do_stable_layer_norm": model.flag("layer_norm_first"),
        "num_conv_pos_embeddings": model.integer("conv_pos"),
        "num_conv_pos_embedding_groups": model.integer("conv_pos_groups"),
        "layer_norm_eps": 1e-5,
        "architectures": [MODEL_CLASSES[family].__name__],
    }
    if family == "hubert":
        fields.update(feat_proj_layer_norm=True, conv_pos_batch_norm=False)
    if fields["hidden_size"] % max(fields["num_attention_heads"], 1):
        raise FairseqCheckpointError(
            f"{source}: encoder_embed_dim={fields['hidden_size']} is not divisible by "
            f"encoder_attention_heads={fields['num_attention_heads']}"
        )
    return _CONFIG_CLASSES[family](**fields)


# --------------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvertedCheckpoint:
    """A fairseq checkpoint translated to transformers terms (what the loaders build a model from).

    Attributes:
        source: where it came from (the file path), for messages.
        family: the transformers model type, ``"wav2vec2"`` or ``"hubert"``.
        fine_tuned: the encoder was taken out of a fine-tuned (CTC / seq2seq) model.
        config: the transformers config.
        state_dict: transformers parameter name -> float32 tensor, exactly the model's keys.
        normalize: the task's ``normalize`` flag (per-utterance zero mean / unit variance input).
        dropped: fairseq weight names not used by the encoder (pretraining / fine-tuning heads).
    """

    source: str
    family: str
    fine_tuned: bool
    config: PretrainedConfig
    state_dict: dict[str, Tensor]
    normalize: bool
    dropped: tuple[str, ...]


def convert_checkpoint_dict(
    checkpoint: Mapping[str, Any], source: str = "<checkpoint>"
) -> ConvertedCheckpoint:
    """Translate a loaded fairseq checkpoint (see :func:`read_fairseq_checkpoint`) to transformers.

    Args:
        checkpoint: the dict ``torch.load`` returned: ``model`` (state dict) and ``cfg`` or ``args``.
        source: the file name used in messages.
    """
    config = _checkpoint_config(checkpoint, source)
    model, task = _sections(config, source)
    weights: Mapping[str, Tensor] = checkpoint["model"]
    name = _model_name(model)
    fine_tuned = name in _FINE_TUNED_NAMES or model.has("w2v_args") or model.has("w2v_path")
    if fine_tuned:
        inner = _plain(model.get("w2v_args"))
        if not isinstance(inner, Mapping) or not inner:
            raise FairseqCheckpointError(
                f"{source}: a fine-tuned checkpoint ({name}) without the pretrained model's config "
                f"(w2v_args); it was built from w2v_path={model.get('w2v_path')!r}, which is not embedded. "
                "Load that pretrained checkpoint instead"
            )
        encoder, inner_task = _sections(inner, f"{source} w2v_args")
        normalize_from = [task, model, inner_task]
    else:
        encoder, inner_task = model, task
        normalize_from = [task]
    if any(section.flag("relative_position_embedding", default=False) for section in (model, encoder)):
        raise FairseqCheckpointError(
            f"{source}: a WavLM-style model (relative position embedding) is not supported; "
            "use transformers' microsoft/wavlm-* checkpoints instead"
        )
    normalize = next(
        (section.flag("normalize") for section in normalize_from if section.has("normalize")),
        bool(FAIRSEQ_DEFAULTS["normalize"]),
    )
    if fine_tuned and inner_task.has("normalize") and inner_task.flag("normalize") != normalize:
        log.warning(
            "%s: fine-tuning normalize=%s differs from pretraining normalize=%s; following fine-tuning",
            source,
            normalize,
            inner_task.flag("normalize"),
        )
    sample_rate = inner_task.get("sample_rate", SAMPLE_RATE)
    if int(sample_rate) != SAMPLE_RATE:
        raise FairseqCheckpointError(
            f"{source}: trained on {sample_rate} Hz audio; speechrep upstreams take {SAMPLE_RATE} Hz"
        )

    prefix = next((p for p in _FINE_TUNED_PREFIXES if any(key.startswith(p) for key in weights)), "")
    if fine_tuned and not prefix:
        raise FairseqCheckpointError(
            f"{source}: the config describes a fine-tuned model but no weights are under "
            f"{' or '.join(_FINE_TUNED_PREFIXES)}"
        )
    if prefix and not fine_tuned:
        raise FairseqCheckpointError(
            f"{source}: the weights are under {prefix!r} (a fine-tuned model) but the config has no "
            "w2v_args describing the pretrained encoder"
        )
    encoder_keys = [key[len(prefix) :] for key in weights if key.startswith(prefix)]
    family = _family(_model_name(encoder), encoder_keys, source)
    hf_config = _hf_config(family, encoder, source)
    state, dropped = _map_weights(weights, prefix, source)
    _complete_state(state, hf_config, source)
    if dropped:
        log.info(
            "%s: dropped %d tensors the encoder does not use (pretraining/fine-tuning heads): %s",
            source,
            len(dropped),
            ", ".join(dropped[:24]) + (f" ... and {len(dropped) - 24} more" if len(dropped) > 24 else ""),
        )
    return ConvertedCheckpoint(
        source=source,
        family=family,
        fine_tuned=fine_tuned,
        config=hf_config,
        state_dict=state,
        normalize=normalize,
        dropped=tuple(dropped),
    )


def _map_weights(
    weights: Mapping[str, Tensor], prefix: str, source: str
) -> tuple[dict[str, Tensor], list[str]]:
    """fairseq encoder weights renamed to transformers names (float32), and the names dropped."""
    state: dict[str, Tensor] = {}
    dropped: list[str] = []
    unknown: list[str] = []
    for key, tensor in weights.items():
        if not key.startswith(prefix):
            dropped.append(key)
            continue
        name = key[len(prefix) :]
        if _PRETRAINING_ONLY.match(name):
            dropped.append(key)
            continue
        if name == "encoder.pos_conv.0.weight":  # positional conv saved without weight norm
            norm = torch.linalg.vector_norm(tensor.float(), dim=(0, 1), keepdim=True)
            state[_POS_CONV + "parametrizations.weight.original0"] = norm
            state[_POS_CONV + "parametrizations.weight.original1"] = tensor
            continue
        for pattern, replacement in _KEY_RULES:
            if pattern.fullmatch(name):
                state[pattern.sub(replacement, name)] = tensor
                break
        else:
            unknown.append(key)
    if unknown:
        shown = ", ".join(sorted(unknown)[:12]) + (" ..." if len(unknown) > 12 else "")
        raise FairseqCheckpointError(
            f"{source}: {len(unknown)} weights are not part of a wav2vec 2.0 / HuBERT encoder ({shown}); "
            "data2vec-audio, WavLM (unilm), conformer encoders and AV-HuBERT checkpoints are not supported"
        )
    converted = {
        key: (tensor.detach().to(torch.float32) if tensor.is_floating_point() else tensor.detach())
        for key, tensor in state.items()
    }
    return converted, sorted(dropped)


def _complete_state(state: dict[str, Tensor], config: PretrainedConfig, source: str) -> None:
    """Fill what fairseq legitimately omits: the identity ``post_extract_proj`` and ``mask_emb``."""
    projection = "feature_projection.projection."
    if projection + "weight" not in state:
        if config.conv_dim[-1] != config.hidden_size:
            raise FairseqCheckpointError(
                f"{source}: no post_extract_proj weights, but the last conv layer has {config.conv_dim[-1]} "
                f"channels and the encoder {config.hidden_size}"
            )
        state[projection + "weight"] = torch.eye(config.hidden_size)
        state[projection + "bias"] = torch.zeros(config.hidden_size)
    if "masked_spec_embed" not in state:  # only used for masking during training
        state["masked_spec_embed"] = torch.zeros(config.hidden_size)


def build_model(converted: ConvertedCheckpoint) -> PreTrainedModel:
    """The transformers model of a converted checkpoint (eval mode, float32, on the CPU).

    The model is created on the meta device and the converted tensors are assigned to it, so no
    time is spent drawing random weights that would be overwritten; every key must match exactly.
    """
    model_class = MODEL_CLASSES[converted.family]
    with torch.device("meta"):
        model = model_class(converted.config)
    expected = set(model.state_dict())
    missing = sorted(expected - set(converted.state_dict))
    unexpected = sorted(set(converted.state_dict) - expected)
    if missing or unexpected:
        raise FairseqCheckpointError(
            f"{converted.source}: the weights do not match the architecture in its config "
            f"(missing {missing[:8]}, unexpected {unexpected[:8]})"
        )
    try:
        model.load_state_dict(converted.state_dict, strict=True, assign=True)
    except RuntimeError as error:
        raise FairseqCheckpointError(
            f"{converted.source}: the weights do not fit the architecture in its config: {error}"
        ) from error
    on_meta = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.is_meta]
    if on_meta:
        raise FairseqCheckpointError(f"{converted.source}: tensors left without weights: {on_meta[:8]}")
    model.eval()
    return model


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def load_fairseq_checkpoint(path: str | os.PathLike) -> tuple[PreTrainedModel, bool]:
    """A fairseq wav2vec 2.0 / HuBERT checkpoint as ``(transformers model, normalize)``.

    ``normalize`` is the checkpoint's task setting: whether each waveform must be normalised to
    zero mean and unit variance before it enters the model.
    """
    source = os.path.abspath(os.fspath(path))
    converted = convert_checkpoint_dict(read_fairseq_checkpoint(source), source=source)
    return build_model(converted), converted.normalize


def fairseq_upstream(
    path: str | os.PathLike,
    device: str | torch.device | None = None,
    normalize: bool | None = None,
) -> HFSpeechUpstream:
    """A speechrep upstream straight from a fairseq ``.pt`` checkpoint (layers ``cnn.k``, ``tf.k``).

    Args:
        path: the checkpoint file; it becomes the upstream's name (made absolute).
        device: where the model runs; ``None`` keeps the CPU.
        normalize: force input normalisation on or off; ``None`` follows the checkpoint's task.

    The upstream's ``origin`` holds the file's SHA-256 (and this converter's version), so feature
    caches keyed on it change when the file or the translation changes.
    """
    source = os.path.abspath(os.fspath(path))
    converted = convert_checkpoint_dict(read_fairseq_checkpoint(source), source=source)
    model = build_model(converted)
    origin = {
        "source": "fairseq",
        "path": source,
        "sha256": file_sha256(source),
        "family": converted.family,
        "fine_tuned": converted.fine_tuned,
        "converter_version": CONVERTER_VERSION,
    }
    return HFSpeechUpstream(
        model,
        name=source,
        normalize=converted.normalize if normalize is None else bool(normalize),
        origin=origin,
        device=device,
    )


def convert_fairseq_checkpoint(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write a fairseq checkpoint as a transformers ``save_pretrained`` directory; returns it.

    The directory holds ``config.json`` + ``model.safetensors``, a ``preprocessor_config.json``
    whose ``do_normalize`` is the checkpoint's ``normalize`` flag (so
    :func:`speechrep.upstream.load_upstream` follows it), and ``fairseq_source.json`` (source path,
    SHA-256, dropped weights). It is written to a temporary sibling and renamed into place, so a
    failure never leaves a half-written directory. An existing non-empty ``out_dir`` is an error
    unless ``overwrite``.
    """
    source = os.path.abspath(os.fspath(path))
    out = Path(out_dir).absolute()
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not overwrite:
            raise FileExistsError(
                f"{out} exists and is not empty; pass overwrite=True (--overwrite) to replace it"
            )
    converted = convert_checkpoint_dict(read_fairseq_checkpoint(source), source=source)
    model = build_model(converted)
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        do_normalize=converted.normalize,
        return_attention_mask=converted.config.feat_extract_norm == "layer",
    )
    provenance = {
        "source_path": source,
        "sha256": file_sha256(source),
        "family": converted.family,
        "fine_tuned": converted.fine_tuned,
        "normalize": converted.normalize,
        "dropped_weights": list(converted.dropped),
        "converter": MODULE_NAME,
        "converter_version": CONVERTER_VERSION,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        model.save_pretrained(staging)
        extractor.save_pretrained(staging)
        (staging / "fairseq_source.json").write_text(json.dumps(provenance, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("%s: wrote %s (%s, normalize=%s)", source, out, converted.family, converted.normalize)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m modellib_addons.fairseq_checkpoints convert IN.pt OUT_DIR [--overwrite]``."""
    parser = argparse.ArgumentParser(
        prog="python -m modellib_addons.fairseq_checkpoints",
        description="Convert fairseq wav2vec 2.0 / HuBERT checkpoints for speechrep (fairseq not needed).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser(
        "convert", help="write a save_pretrained directory that speechrep's load_upstream reads"
    )
    convert.add_argument("checkpoint", help="fairseq .pt file (pretrained or CTC fine-tuned)")
    convert.add_argument("out_dir", help="output directory (created; must not hold files)")
    convert.add_argument("--overwrite", action="store_true", help="replace a non-empty out_dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        out = convert_fairseq_checkpoint(args.checkpoint, args.out_dir, overwrite=args.overwrite)
    except (FairseqCheckpointError, FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
