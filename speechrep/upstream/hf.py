"""HF transformers speech encoders (wav2vec 2.0, XLS-R, HuBERT, WavLM, data2vec-audio) as an Upstream.

Layer names and what each one is (pinned by ``tests/upstream/test_hf.py`` under transformers 5)
-----------------------------------------------------------------------------------------------

The models share one layout: a CNN feature encoder (``feature_extractor.conv_layers``), a feature
projection (LayerNorm + Linear), a convolutional positional embedding, and ``L`` transformer
blocks (``encoder.layers``). Two geometries differ in where the LayerNorms sit:

- post-LN ("base": wav2vec2-base, HuBERT-base, WavLM-base, data2vec-audio): ``config.do_stable_layer_norm``
  is False; the encoder normalises its input and every block ends with a LayerNorm;
- stable-LN ("large": wav2vec2-large-lv60, XLS-R, HuBERT-large, WavLM-large): ``do_stable_layer_norm``
  is True; blocks are pre-LN (the residual stream is never normalised) and the encoder applies one
  final LayerNorm after block ``L``.

=============  ===================================================  ======================================
name           post-LN (base)                                       stable-LN (large)
=============  ===================================================  ======================================
``cnn.k``      output of conv block ``k`` after its activation (GELU), ``(T_k, conv_dim[k])``: after
               GroupNorm in block 0 of "group" models, after the block's LayerNorm in "layer" models
``tf.0``       input of block 1: ``LN(p + posconv(p))``              input of block 1: ``p + posconv(p)``
               (``p`` = projection of the LayerNorm-ed last CNN output, in both geometries)
``tf.k``       output of block ``k`` (ends with the block's LN)      output of block ``k`` (residual stream)
``tf.L``       output of block ``L`` == ``last_hidden_state``        output of block ``L`` *before* the
                                                                    encoder's final LayerNorm
``tf.final``   (not defined: it would equal ``tf.L``)               ``last_hidden_state`` == ``LN(tf.L)``
=============  ===================================================  ======================================

``tf.k`` is exactly transformers 5's ``output_hidden_states`` entry ``k``. Why ``tf.L`` is the
pre-LN state for stable-LN models: every ``tf.k`` then means the same thing ("output of block k"),
it is what fairseq's ``layer_results[L]`` (used by layer-wise analysis papers) holds, and it is what
transformers 5 returns (4.x returned the post-LN state as ``hidden_states[-1]``, so top-layer
curves of large models silently changed with the version). The model's actual output stays
available as ``tf.final``. ``config.tie_last_hidden_states`` is forced to False so a checkpoint
cannot switch the meaning back.

Inference settings
------------------

- Eval mode always (``train()`` leaves the wrapped model in eval), ``torch.inference_mode``,
  ``layerdrop = 0``, SpecAugment off (``apply_spec_augment = False``; ``mask_time_prob`` only acts
  in training mode anyway): the same input always gives the same layers.
- Only what is asked is computed: cnn-only requests run just the needed conv blocks; otherwise
  the encoder runs up to the deepest requested block, and transformers keeps only the requested
  hidden states (``output_hidden_states=[...]``).
- Input normalisation (zero mean, unit variance per utterance, ``eps = 1e-7`` inside the square
  root as in HF's feature extractor) happens per utterance *before* padding, so padding never
  changes the statistics. Whether to normalise is the checkpoint's own setting (``do_normalize`` of
  its feature extractor, resolved by :func:`speechrep.upstream.load_upstream`), or by default
  :func:`default_normalize`.
- Batching (see :func:`pads_exactly`): models whose output does not depend on padding when an
  attention mask is given ("layer" feature encoders) run as one padded batch with a mask; the
  others ("group" feature encoders, whose GroupNorm normalises over time padding included, and
  data2vec-audio, whose stacked positional convolutions spread padding into valid frames) run
  unpadded, one forward per group of equal-length utterances. Batched output equals unbatched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import transformers
from torch import Tensor, nn
from transformers import (
    Data2VecAudioModel,
    HubertModel,
    PretrainedConfig,
    PreTrainedModel,
    Wav2Vec2Model,
    WavLMModel,
)
from transformers.utils.output_capturing import maybe_install_capturing_hooks

from speechrep.upstream.base import (
    Upstream,
    UpstreamOutput,
    WaveInput,
    as_waveforms,
    check_layers,
    conv_output_length,
    conv_receptive_field,
)
from speechrep.utils.hashing import state_dict_sha256

log = logging.getLogger(__name__)

#: ``config.model_type`` -> the bare encoder class (no task head) used for extraction.
MODEL_CLASSES: dict[str, type[PreTrainedModel]] = {
    "wav2vec2": Wav2Vec2Model,
    "hubert": HubertModel,
    "wavlm": WavLMModel,
    "data2vec-audio": Data2VecAudioModel,
}

#: Extra layer of stable-LN models: the model's ``last_hidden_state`` (after the final LayerNorm).
FINAL_LAYER = "tf.final"

#: Bumped whenever the meaning of a layer name or the preprocessing changes, so caches keyed on
#: :meth:`HFSpeechUpstream.fingerprint` are invalidated.
EXTRACTION_VERSION = 1

#: Added to the variance inside the square root, as HF's ``Wav2Vec2FeatureExtractor`` does.
NORMALIZE_EPS = 1e-7

# Config fields that do not change the features (bookkeeping, output switches, head labels).
_IDENTITY_IGNORED_KEYS = frozenset(
    {
        "_name_or_path",
        "_commit_hash",
        "transformers_version",
        "architectures",
        "output_hidden_states",
        "output_attentions",
        "return_dict",
        "id2label",
        "label2id",
        "dtype",
        "torch_dtype",
    }
)

_LAYER_NAME = re.compile(r"^(cnn|tf)\.(\d+)$")


def default_normalize(config: PretrainedConfig) -> bool:
    """Input normalisation a checkpoint without a feature-extractor config was most likely trained with.

    "layer" feature encoders (wav2vec2-large-lv60, XLS-R, HuBERT/WavLM-large, data2vec-audio) were
    trained on normalised audio; "group" ones (the base models) were not. Note that a "group"
    model with ``conv_bias=False`` is nearly invariant to input scale and offset anyway (its first
    GroupNorm removes both), so the choice matters mostly for "layer" models.
    """
    return getattr(config, "feat_extract_norm", "layer") == "layer"


def pads_exactly(config: PretrainedConfig) -> bool:
    """Whether a padded batch with an attention mask gives the same valid frames as unpadded input.

    False for "group" feature encoders (GroupNorm statistics over time include the padding), for
    data2vec-audio (its positional embedding stacks convolutions with LayerNorm, which turn the
    zeroed padding into non-zero values that the next convolution mixes into valid frames) and for
    HuBERT with ``conv_pos_batch_norm`` (BatchNorm before the positional convolution does the same).
    """
    if config.model_type == "data2vec-audio" or getattr(config, "conv_pos_batch_norm", False):
        return False
    return getattr(config, "feat_extract_norm", "group") == "layer"


def normalize_waveform(wave: Tensor) -> Tensor:
    """Zero mean, unit variance over one unpadded utterance: ``(x - mean) / sqrt(var + 1e-7)``."""
    wave = wave.to(torch.float32)
    return (wave - wave.mean()) / torch.sqrt(wave.var(correction=0) + NORMALIZE_EPS)


class HFSpeechUpstream(Upstream):
    """A transformers speech encoder exposing ``cnn.*``, ``tf.*`` (and ``tf.final``) layers.

    Args:
        model: a ``Wav2Vec2Model``, ``HubertModel``, ``WavLMModel`` or ``Data2VecAudioModel``; a model
            with a task head (e.g. ``Wav2Vec2ForCTC``) is replaced by its encoder (``base_model``).
        name: identity used in messages and fingerprints; defaults to ``config._name_or_path``.
        normalize: normalise each utterance before the model; ``None`` uses
            :func:`default_normalize` (the loader passes the checkpoint's own ``do_normalize``).
        origin: JSON-able provenance for the fingerprint (hub revision, local path, random seed).
        device: where to run (e.g. ``"cuda:0"``); ``None`` keeps the model where it is.

    The wrapped model is switched to inference settings (module docstring) in place.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        *,
        name: str | None = None,
        normalize: bool | None = None,
        origin: dict[str, Any] | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        model_type = getattr(model.config, "model_type", None)
        if model_type not in MODEL_CLASSES:
            raise ValueError(
                f"unsupported model type {model_type!r} ({type(model).__name__}); "
                f"supported: {', '.join(MODEL_CLASSES)}"
            )
        if not isinstance(model, MODEL_CLASSES[model_type]):
            model = model.base_model
        if not isinstance(model, MODEL_CLASSES[model_type]):
            raise TypeError(f"expected a {MODEL_CLASSES[model_type].__name__}, got {type(model).__name__}")
        config = model.config
        if getattr(config, "add_adapter", False):
            raise ValueError(
                f"{name or config._name_or_path}: config.add_adapter=True (a seq2seq adapter that "
                "downsamples the output) is not supported for layer-wise extraction"
            )
        _set_inference_config(config)
        model.eval()
        # transformers installs its hidden-state capture hooks once, on the blocks present at the
        # first forward; install them now, on every block, before any forward runs on fewer blocks.
        maybe_install_capturing_hooks(model)

        self.model = model
        self.name = name or config._name_or_path or f"random:{model_type}"
        self.normalize = default_normalize(config) if normalize is None else bool(normalize)
        self.origin = dict(origin or {})
        self.stable_layer_norm = bool(getattr(config, "do_stable_layer_norm", False))
        self.pads_exactly = pads_exactly(config)
        self._kernels = tuple(int(k) for k in config.conv_kernel)
        self._strides = tuple(int(s) for s in config.conv_stride)
        self.num_transformer_layers = int(config.num_hidden_layers)
        self.layer_names = (
            [f"cnn.{k}" for k in range(len(self._kernels))]
            + [f"tf.{k}" for k in range(self.num_transformer_layers + 1)]
            + ([FINAL_LAYER] if self.stable_layer_norm else [])
        )
        self._weights_sha256: str | None = None
        if device is not None:
            self.to(device)

    # ---------------------------------------------------------------------------------------------
    # Geometry
    # ---------------------------------------------------------------------------------------------

    def _conv_depth(self, layer: str) -> int:
        """How many conv blocks produce ``layer`` (all of them for transformer layers)."""
        check_layers(self, [layer])
        match = _LAYER_NAME.match(layer)
        if match and match.group(1) == "cnn":
            return int(match.group(2)) + 1
        return len(self._kernels)

    def hop_length(self, layer: str) -> int:
        return math.prod(self._strides[: self._conv_depth(layer)])

    def receptive_field(self, layer: str) -> int:
        depth = self._conv_depth(layer)
        return conv_receptive_field(self._kernels[:depth], self._strides[:depth])

    def num_frames(self, layer: str, num_samples: int) -> int:
        depth = self._conv_depth(layer)
        if depth < len(self._kernels):
            return conv_output_length(num_samples, self._kernels[:depth], self._strides[:depth])
        frames = self.model._get_feat_extract_output_lengths(torch.tensor(int(num_samples)))
        return max(0, int(frames))

    def min_samples(self, layer: str) -> int:
        """The shortest input ``layer`` is defined for: one frame, or two first-conv frames for the
        GroupNorm of "group" models (normalising a single time step is undefined)."""
        shortest = self.receptive_field(layer)
        if getattr(self.model.config, "feat_extract_norm", None) == "group":
            shortest = max(shortest, self._kernels[0] + self._strides[0])
        return shortest

    def feature_dim(self, layer: str) -> int:
        depth = self._conv_depth(layer)
        if layer.startswith("cnn."):
            return int(self.model.config.conv_dim[depth - 1])
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def train(self, mode: bool = True) -> HFSpeechUpstream:
        """Keep the wrapped model in eval mode: an upstream is a frozen feature extractor."""
        super().train(mode)
        self.model.eval()
        return self

    # ---------------------------------------------------------------------------------------------
    # Extraction
    # ---------------------------------------------------------------------------------------------

    def forward(self, wavs: Sequence[WaveInput], layers: Sequence[str] | str | None = None) -> UpstreamOutput:
        """Layer-wise features of a batch of unpadded waveforms (see :class:`UpstreamOutput`).

        Each utterance is normalised on its own (if enabled), then the batch runs padded with an
        attention mask or as equal-length buckets, depending on :attr:`pads_exactly`.
        """
        layers = check_layers(self, layers)
        waves = as_waveforms(wavs, min_samples=max(self.min_samples(layer) for layer in layers))
        if self.normalize:
            waves = [normalize_waveform(wave) for wave in waves]
        num_samples = [wave.numel() for wave in waves]
        lengths = {
            layer: torch.tensor([self.num_frames(layer, n) for n in num_samples], dtype=torch.long)
            for layer in layers
        }
        if self.pads_exactly:
            groups = [list(range(len(waves)))]
        else:
            by_length: dict[int, list[int]] = {}
            for index, n in enumerate(num_samples):
                by_length.setdefault(n, []).append(index)
            groups = list(by_length.values())

        states: dict[str, Tensor] = {}
        with torch.inference_mode():
            for group in groups:
                batch, mask = self._pad([waves[i] for i in group])
                group_states = self._run(batch, mask, layers)
                if len(groups) == 1:
                    states = {layer: _zero_padding(h, lengths[layer]) for layer, h in group_states.items()}
                    break
                rows = torch.tensor(group, device=batch.device)
                for layer, h in group_states.items():
                    expected = int(lengths[layer][group[0]])
                    if h.shape[1] != expected:
                        raise RuntimeError(
                            f"{self.name}: {layer} has {h.shape[1]} frames for "
                            f"{num_samples[group[0]]} samples, but the conv arithmetic gives {expected}"
                        )
                    if layer not in states:
                        total = int(lengths[layer].max())
                        states[layer] = h.new_zeros(len(waves), total, h.shape[2])
                    states[layer][rows, :expected] = h
        return UpstreamOutput(hidden_states=states, lengths=lengths)

    def _pad(self, waves: list[Tensor]) -> tuple[Tensor, Tensor | None]:
        """Stack waveforms on the model's device; zero-pad with an attention mask if lengths differ."""
        longest = max(wave.numel() for wave in waves)
        batch = torch.zeros(len(waves), longest, device=self.device, dtype=self.dtype)
        for row, wave in enumerate(waves):
            batch[row, : wave.numel()] = wave.to(batch.device, batch.dtype)
        if all(wave.numel() == longest for wave in waves):
            return batch, None
        sizes = torch.tensor([wave.numel() for wave in waves], device=batch.device)
        mask = (torch.arange(longest, device=batch.device)[None, :] < sizes[:, None]).long()
        return batch, mask

    def _run(self, batch: Tensor, mask: Tensor | None, layers: list[str]) -> dict[str, Tensor]:
        """One model call for ``layers``: layer -> ``(b, T, D)`` (frames past a length are unspecified)."""
        cnn_wanted = sorted(int(layer[4:]) for layer in layers if layer.startswith("cnn."))
        tf_wanted = sorted(
            int(layer[3:]) for layer in layers if layer.startswith("tf.") and layer != FINAL_LAYER
        )
        final_wanted = FINAL_LAYER in layers
        conv_layers = self.model.feature_extractor.conv_layers

        captured: dict[int, Tensor] = {}
        hooks = [conv_layers[k].register_forward_hook(_capture_into(captured, k)) for k in cnn_wanted]
        outputs = None
        try:
            if not tf_wanted and not final_wanted:
                hidden = batch[:, None]
                for conv_layer in conv_layers[: cnn_wanted[-1] + 1]:
                    hidden = conv_layer(hidden)
            else:
                # tf.k is captured as the input of block k+1 / output of block k, so at least one block runs.
                blocks = self.num_transformer_layers if final_wanted else max(1, tf_wanted[-1])
                with _first_blocks(self.model.encoder, blocks), warnings.catch_warnings():
                    # WavLM's attention passes a bool padding mask with a float position bias to torch.
                    warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask")
                    outputs = self.model(batch, attention_mask=mask, output_hidden_states=tf_wanted or False)
        finally:
            for hook in hooks:
                hook.remove()

        result: dict[str, Tensor] = {}
        for layer in layers:
            if layer == FINAL_LAYER:
                result[layer] = outputs.last_hidden_state
            elif layer.startswith("cnn."):
                result[layer] = captured[int(layer[4:])].transpose(1, 2).contiguous()
            else:
                result[layer] = outputs.hidden_states[int(layer[3:])]
        return result

    # ---------------------------------------------------------------------------------------------
    # Identity
    # ---------------------------------------------------------------------------------------------

    def weights_sha256(self) -> str:
        """SHA-256 over every parameter and buffer (names, dtypes, shapes, bytes); computed once.

        The weights of an upstream are frozen, so the hash is cached after the first call.
        """
        if self._weights_sha256 is None:
            self._weights_sha256 = state_dict_sha256(self.model)
        return self._weights_sha256

    def fingerprint(self) -> dict[str, Any]:
        """Identity of the features: class, name, config, preprocessing, provenance, weights, versions."""
        config = {
            key: value
            for key, value in self.model.config.to_dict().items()
            if key not in _IDENTITY_IGNORED_KEYS
        }
        return {
            "class": type(self).__name__,
            "extraction_version": EXTRACTION_VERSION,
            "name": self.name,
            "model_type": self.model.config.model_type,
            "config": json.loads(json.dumps(config, sort_keys=True, default=str)),
            "dtype": str(self.dtype).removeprefix("torch."),
            "normalize": self.normalize,
            "origin": json.loads(json.dumps(self.origin, sort_keys=True, default=str)),
            "weights_sha256": self.weights_sha256(),
            "versions": {
                "transformers": transformers.__version__,
                "torch": torch.__version__.split("+")[0],
            },
        }

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, layers={len(self.layer_names)}, normalize={self.normalize}, "
            f"batching={'padded+mask' if self.pads_exactly else 'equal-length buckets'}"
        )


# --------------------------------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------------------------------


def _set_inference_config(config: PretrainedConfig) -> None:
    """Switch off everything that makes a forward pass stochastic or changes the layer semantics.

    SpecAugment is switched off with ``apply_spec_augment`` rather than by zeroing the mask
    probabilities, which would also drop ``masked_spec_embed`` from a re-saved checkpoint.
    """
    config.layerdrop = 0.0
    config.apply_spec_augment = False
    config.tie_last_hidden_states = False


def _capture_into(store: dict[int, Tensor], index: int):
    """A forward hook that records a conv block's output (B, C, T) under ``index``."""

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        store[index] = output

    return hook


@contextlib.contextmanager
def _first_blocks(encoder: nn.Module, count: int) -> Iterator[None]:
    """Temporarily keep only the first ``count`` transformer blocks, so deeper ones are not computed.

    The blocks are the same module objects, so outputs are bit-identical to a full forward up to
    block ``count``. Not safe for concurrent forwards of one model from several threads.
    """
    blocks = encoder.layers
    if count >= len(blocks):
        yield
        return
    encoder.layers = nn.ModuleList(list(blocks)[:count])
    try:
        yield
    finally:
        encoder.layers = blocks


def _zero_padding(states: Tensor, lengths: Tensor) -> Tensor:
    """Zero (in place) every frame of ``states`` (B, T, D) at or after each row's length."""
    frames = torch.arange(states.shape[1], device=states.device)
    padded = frames[None, :] >= lengths.to(states.device)[:, None]
    if bool(padded.any()):
        states.masked_fill_(padded[..., None], 0.0)
    return states
