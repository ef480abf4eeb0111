"""HFSpeechUpstream: frame geometry, what each layer name is, exact batching, normalisation."""

from __future__ import annotations

import json

import pytest
import torch
from upstream_helpers import tiny, waves

from speechrep.upstream import FINAL_LAYER, HFSpeechUpstream, check_layers, normalize_waveform

ONE_SECOND_FRAMES = [3199, 1599, 799, 399, 199, 99, 49]
KERNELS = (10, 3, 3, 3, 3, 2, 2)
STRIDES = (5, 2, 2, 2, 2, 2, 2)


def own_conv_frames(num_samples: int) -> list[int]:
    """Frames after each conv block, by hand: floor((L - k) / s) + 1 per block."""
    frames, length = [], num_samples
    for kernel, stride in zip(KERNELS, STRIDES):
        length = (length - kernel) // stride + 1
        frames.append(length)
    return frames


def direct_hidden_states(upstream: HFSpeechUpstream, wave: torch.Tensor):
    """The wrapped model called directly on one (normalised if configured) utterance."""
    x = normalize_waveform(wave) if upstream.normalize else wave
    with torch.inference_mode():
        return upstream.model(x[None], output_hidden_states=True)


# --------------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------------


def test_cnn_frame_counts_follow_the_conv_arithmetic(tiny_base: HFSpeechUpstream) -> None:
    assert own_conv_frames(16000) == ONE_SECOND_FRAMES
    assert own_conv_frames(90043) == [18007, 9003, 4501, 2250, 1124, 562, 281]
    for num_samples in (400, 401, 719, 720, 12345, 16000, 90043):
        expected = own_conv_frames(num_samples)
        assert [tiny_base.num_frames(f"cnn.{k}", num_samples) for k in range(7)] == expected
        assert tiny_base.num_frames("tf.0", num_samples) == expected[-1]
        assert tiny_base.num_frames("tf.2", num_samples) == expected[-1]

    out = tiny_base(waves(16000, 12345), layers=[f"cnn.{k}" for k in range(7)] + ["tf.0", "tf.2"])
    for k in range(7):
        states = out.hidden_states[f"cnn.{k}"]
        assert states.shape == (2, ONE_SECOND_FRAMES[k], 32)
        assert out.lengths[f"cnn.{k}"].tolist() == [ONE_SECOND_FRAMES[k], own_conv_frames(12345)[k]]
    assert out.hidden_states["tf.2"].shape == (2, 49, 32)
    assert out.lengths["tf.2"].tolist() == [49, own_conv_frames(12345)[-1]]


def test_hop_and_receptive_field(tiny_base: HFSpeechUpstream) -> None:
    assert [tiny_base.hop_length(f"cnn.{k}") for k in range(7)] == [5, 10, 20, 40, 80, 160, 320]
    assert [tiny_base.receptive_field(f"cnn.{k}") for k in range(7)] == [10, 20, 40, 80, 160, 240, 400]
    assert tiny_base.hop_length("tf.1") == 320 and tiny_base.receptive_field("tf.1") == 400
    assert tiny_base.hop_seconds("tf.1") == 0.02
    assert tiny_base.feature_dim("cnn.3") == 32 and tiny_base.feature_dim("tf.0") == 32
    assert tiny_base.num_frames("cnn.6", 399) == 0 and tiny_base.num_frames("tf.0", 10) == 0


def test_layer_names(tiny_base: HFSpeechUpstream, tiny_large: HFSpeechUpstream) -> None:
    cnn = [f"cnn.{k}" for k in range(7)]
    assert tiny_base.layer_names == [*cnn, "tf.0", "tf.1", "tf.2"]
    assert tiny_large.layer_names == [*cnn, "tf.0", "tf.1", "tf.2", FINAL_LAYER]


# --------------------------------------------------------------------------------------------------
# What each layer name is (pinned for transformers 5)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("large", [False, True])
def test_tf_layers_equal_output_hidden_states_to_the_bit(large: bool) -> None:
    upstream = tiny("wav2vec2", large=large)
    wave = waves(16000)[0]
    direct = direct_hidden_states(upstream, wave)
    tf_layers = [f"tf.{k}" for k in range(3)]
    ours = upstream(waves(16000), layers=tf_layers)
    for k, layer in enumerate(tf_layers):
        assert torch.equal(ours.hidden_states[layer][0], direct.hidden_states[k][0]), layer
    # the deepest-block shortcut (only tf.1 asked: block 2 is not run) changes nothing
    only_tf1 = upstream(waves(16000), layers=["tf.1"]).hidden_states["tf.1"]
    assert torch.equal(only_tf1[0], direct.hidden_states[1][0])


@pytest.mark.parametrize("family", ["wav2vec2", "hubert", "wavlm"])
def test_a_shallow_first_call_does_not_truncate_later_deeper_calls(family: str) -> None:
    # transformers hooks its hidden-state capture onto the blocks present at the first forward;
    # a first call that runs only block 1 (tf.1) must not lose deeper states from later calls.
    upstream = tiny(family)
    wave = waves(16000)
    upstream(wave, layers=["tf.1"])
    deeper = upstream(wave, layers=["tf.0", "tf.1", "tf.2"]).hidden_states
    direct = direct_hidden_states(upstream, wave[0])
    for k in range(3):
        assert torch.equal(deeper[f"tf.{k}"][0], direct.hidden_states[k][0]), k


def _block_outputs_and_encoder_input(upstream: HFSpeechUpstream, wave: torch.Tensor):
    """A direct call with hooked block outputs, and the encoder input recomputed by hand."""
    model = upstream.model
    outputs: dict[int, torch.Tensor] = {}

    def keeper(index: int):
        def hook(module, args, output):
            outputs[index] = output[0] if isinstance(output, tuple) else output

        return hook

    hooks = [block.register_forward_hook(keeper(i)) for i, block in enumerate(model.encoder.layers)]
    try:
        direct = direct_hidden_states(upstream, wave)
    finally:
        for hook in hooks:
            hook.remove()
    x = normalize_waveform(wave) if upstream.normalize else wave
    with torch.inference_mode():
        conv_output = model.feature_extractor(x[None]).transpose(1, 2)
        projected, _ = model.feature_projection(conv_output)
        with_positions = projected + model.encoder.pos_conv_embed(projected)
    return direct, outputs, with_positions


def test_pinned_semantics_post_ln_base_geometry(tiny_base: HFSpeechUpstream) -> None:
    wave = waves(16000)[0]
    ours = tiny_base([wave]).hidden_states
    direct, block_outputs, with_positions = _block_outputs_and_encoder_input(tiny_base, wave)
    encoder_ln = tiny_base.model.encoder.layer_norm
    with torch.inference_mode():
        # tf.0: encoder input after positional conv AND the encoder LayerNorm (post-LN geometry)
        torch.testing.assert_close(ours["tf.0"], encoder_ln(with_positions), rtol=0, atol=1e-6)
    # tf.k: output of block k
    for k in (1, 2):
        assert torch.equal(ours[f"tf.{k}"], block_outputs[k - 1])
    # tf.L is the model's last_hidden_state; there is no separate final layer
    assert torch.equal(ours["tf.2"], direct.last_hidden_state)
    assert FINAL_LAYER not in tiny_base.layer_names


def test_pinned_semantics_stable_ln_large_geometry(tiny_large: HFSpeechUpstream) -> None:
    wave = waves(16000)[0]
    ours = tiny_large([wave]).hidden_states
    direct, block_outputs, with_positions = _block_outputs_and_encoder_input(tiny_large, wave)
    # tf.0: encoder input after positional conv, NOT normalised (pre-LN blocks normalise inside)
    torch.testing.assert_close(ours["tf.0"], with_positions, rtol=0, atol=1e-6)
    for k in (1, 2):
        assert torch.equal(ours[f"tf.{k}"], block_outputs[k - 1])
    # tf.L is block L's output BEFORE the final encoder LayerNorm (= transformers 5 hidden_states[-1])
    assert torch.equal(ours["tf.2"], direct.hidden_states[-1])
    assert not torch.allclose(ours["tf.2"], direct.last_hidden_state)
    # tf.final is the model's last_hidden_state = final LayerNorm of tf.L
    assert torch.equal(ours[FINAL_LAYER], direct.last_hidden_state)
    with torch.inference_mode():
        torch.testing.assert_close(ours[FINAL_LAYER], tiny_large.model.encoder.layer_norm(ours["tf.2"]))


@pytest.mark.parametrize("large", [False, True])
def test_cnn_layers_are_post_activation_block_outputs(large: bool) -> None:
    upstream = tiny("wav2vec2", large=large, normalize=False)
    wave = waves(12345)[0]
    ours = upstream([wave], layers=[f"cnn.{k}" for k in range(7)]).hidden_states
    with torch.inference_mode():
        hidden = wave[None, None]
        for k, block in enumerate(upstream.model.feature_extractor.conv_layers):
            hidden = block(hidden)
            assert torch.equal(ours[f"cnn.{k}"], hidden.transpose(1, 2)), k
        # HF's extract_features is the LayerNorm-ed cnn.6
        direct = upstream.model(wave[None])
        projection_ln = upstream.model.feature_projection.layer_norm
        assert torch.equal(direct.extract_features, projection_ln(ours["cnn.6"]))


def test_only_the_needed_part_runs(tiny_base: HFSpeechUpstream) -> None:
    model = tiny_base.model
    calls: list[str] = []
    hooks = [
        model.feature_projection.register_forward_hook(lambda *a: calls.append("projection")),
        model.encoder.layers[1].register_forward_hook(lambda *a: calls.append("block 2")),
        model.feature_extractor.conv_layers[4].register_forward_hook(lambda *a: calls.append("conv 4")),
    ]
    try:
        tiny_base(waves(4000), layers=["cnn.3"])
        assert calls == []
        tiny_base(waves(4000), layers=["cnn.5"])
        assert calls == ["conv 4"]
        calls.clear()
        tiny_base(waves(4000), layers=["tf.1"])
        assert calls == ["conv 4", "projection"]
        calls.clear()
        tiny_base(waves(4000), layers=["tf.2"])
        assert calls == ["conv 4", "projection", "block 2"]
    finally:
        for hook in hooks:
            hook.remove()
    assert len(model.encoder.layers) == 2  # the shortcut restores the full encoder


# --------------------------------------------------------------------------------------------------
# Batching: batched == unbatched for every family and geometry
# --------------------------------------------------------------------------------------------------

# (family, large geometry, extra config, runs as one padded batch)
FAMILIES = [
    ("wav2vec2", False, {}, False),
    ("wav2vec2", True, {}, True),
    ("hubert", False, {}, False),
    ("hubert", True, {}, True),
    ("hubert", True, {"conv_pos_batch_norm": True}, False),
    ("wavlm", False, {}, False),
    ("wavlm", True, {}, True),
    ("data2vec-audio", False, {}, False),
]


@pytest.mark.parametrize(("family", "large", "extra", "padded"), FAMILIES)
def test_batched_equals_unbatched(family: str, large: bool, extra: dict, padded: bool) -> None:
    upstream = tiny(family, large=large, extra=extra)
    if extra.get("conv_pos_batch_norm"):  # non-trivial running statistics, as in a trained model
        batch_norm = upstream.model.encoder.pos_conv_embed.batch_norm
        generator = torch.Generator().manual_seed(0)
        batch_norm.running_mean.normal_(generator=generator)
        batch_norm.running_var.uniform_(0.5, 2.0, generator=generator)
    assert upstream.pads_exactly is padded
    assert upstream.num_transformer_layers == 2
    lengths = (16000, 11111, 16000, 7000)
    batch = waves(*lengths, seed=1)
    out = upstream(batch)
    assert out.hidden_states["cnn.6"].shape == (4, 49, 32)
    assert out.hidden_states["tf.2"].shape == (4, 49, 32)
    for index, wave in enumerate(batch):
        alone = upstream([wave])
        for layer in upstream.layer_names:
            length = int(out.lengths[layer][index])
            assert length == alone.hidden_states[layer].shape[1] == int(alone.lengths[layer][0])
            batched = out.hidden_states[layer][index]
            diff = (batched[:length] - alone.hidden_states[layer][0]).abs().max().item()
            assert diff <= 1e-4, (family, large, layer, index, diff)
            assert not batched[length:].any(), "padded frames must be zero"


def test_group_norm_models_really_need_buckets(tiny_base: HFSpeechUpstream) -> None:
    """Why "group" models are not padded: a mask cannot undo GroupNorm over the padded time axis."""
    short, long = waves(8000, 16000)
    padded = torch.zeros(2, 16000)
    padded[0, :8000], padded[1] = short, long
    mask = (torch.arange(16000)[None] < torch.tensor([[8000], [16000]])).long()
    with torch.inference_mode():
        batched = tiny_base.model(padded, attention_mask=mask).last_hidden_state[0, :24]
        alone = tiny_base.model(short[None]).last_hidden_state[0]
    assert (batched - alone).abs().max() > 1e-2


# --------------------------------------------------------------------------------------------------
# Input normalisation
# --------------------------------------------------------------------------------------------------


def test_normalisation_defaults_and_override(
    tiny_base: HFSpeechUpstream, tiny_large: HFSpeechUpstream
) -> None:
    assert tiny_base.normalize is False  # "group" feature encoder
    assert tiny_large.normalize is True  # "layer" feature encoder
    assert tiny("data2vec-audio").normalize is True
    assert tiny("wav2vec2", large=True, normalize=False).normalize is False


def test_normalisation_is_per_utterance_and_scale_free(tiny_large: HFSpeechUpstream) -> None:
    wave, other = waves(12000, 16000, seed=2)
    reference = tiny_large([wave]).hidden_states
    # scaled and shifted input, alone and next to a longer neighbour (normalised before padding)
    scaled = tiny_large([3.0 * wave + 0.25, other])
    for layer in tiny_large.layer_names:
        length = reference[layer].shape[1]
        diff = (scaled.hidden_states[layer][0, :length] - reference[layer][0]).abs().max().item()
        assert diff <= 1e-4, (layer, diff)
    normalized = normalize_waveform(3.0 * wave + 0.25)
    assert abs(normalized.mean().item()) < 1e-6 and abs(normalized.std(correction=0).item() - 1) < 1e-4
    # without normalisation the layer-norm CNN (with conv bias) does see the scale
    raw = tiny("wav2vec2", large=True, normalize=False)
    changed = raw([3.0 * wave + 0.25]).hidden_states["tf.2"] - raw([wave]).hidden_states["tf.2"]
    assert changed.abs().max() > 1e-3


# --------------------------------------------------------------------------------------------------
# Layer names and input validation
# --------------------------------------------------------------------------------------------------


def test_unknown_layer_names_the_valid_ones(
    tiny_base: HFSpeechUpstream, tiny_large: HFSpeechUpstream
) -> None:
    message = "unknown layer 'tf.13' for random:wav2vec2; valid: cnn.0..cnn.6, tf.0..tf.2"
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        tiny_base(waves(16000), layers=["tf.0", "tf.13"])
    with pytest.raises(ValueError, match=r"valid: cnn\.0\.\.cnn\.6, tf\.0\.\.tf\.2, tf\.final"):
        tiny_large(waves(16000), layers=["cnn.7"])
    with pytest.raises(ValueError, match=r"'tf\.final'"):
        tiny_base(waves(16000), layers=[FINAL_LAYER])
    with pytest.raises(TypeError, match="strings"):
        check_layers(tiny_base, [3])
    with pytest.raises(ValueError, match="no layers"):
        check_layers(tiny_base, [])
    with pytest.raises(ValueError, match="unknown layer"):
        tiny_base.hop_length("tf.9")


def test_check_layers_forms(tiny_base: HFSpeechUpstream) -> None:
    assert check_layers(tiny_base, None) == tiny_base.layer_names
    assert check_layers(tiny_base, "tf.1") == ["tf.1"]
    assert check_layers(tiny_base, ["tf.1", "cnn.0", "tf.1"]) == ["tf.1", "cnn.0"]


def test_input_validation(tiny_base: HFSpeechUpstream) -> None:
    with pytest.raises(TypeError, match="list of unpadded 1-D waveforms"):
        tiny_base(torch.zeros(2, 16000))
    with pytest.raises(ValueError, match="empty batch"):
        tiny_base([])
    with pytest.raises(ValueError, match=r"waveform 1 has 399 samples.*at least 400"):
        tiny_base(waves(16000, 399), layers=["tf.0"])
    # one first-conv frame is enough for a layer-norm CNN; GroupNorm needs two time steps
    assert tiny("wav2vec2", large=True)(waves(10), layers="cnn.0").hidden_states["cnn.0"].shape == (1, 1, 32)
    with pytest.raises(ValueError, match=r"waveform 0 has 14 samples.*at least 15"):
        tiny_base(waves(14), layers=["cnn.0"])
    assert tiny_base(waves(15), layers=["cnn.0"]).hidden_states["cnn.0"].shape == (1, 2, 32)
    bad = waves(16000)[0].clone()
    bad[5] = float("nan")
    with pytest.raises(ValueError, match="waveform 0 contains NaN"):
        tiny_base([bad])
    with pytest.raises(ValueError, match="1-D"):
        tiny_base([torch.zeros(2, 800)])
    assert tiny_base.extract([]) == []


def test_extract_returns_trimmed_cpu_float32(tiny_base: HFSpeechUpstream) -> None:
    batch = waves(16000, 8000)
    items = tiny_base.extract(batch, layers=["cnn.6", "tf.1"])
    assert [item["tf.1"].shape for item in items] == [(49, 32), (24, 32)]
    assert all(t.dtype == torch.float32 and t.device.type == "cpu" for item in items for t in item.values())
    assert list(items[0]) == ["cnn.6", "tf.1"]
    numpy_input = tiny_base.extract([batch[1].numpy()], layers="tf.1")[0]["tf.1"]
    assert torch.equal(numpy_input, items[1]["tf.1"])


def test_inference_mode_is_deterministic_even_after_train(tiny_base: HFSpeechUpstream) -> None:
    first = tiny_base(waves(16000)).hidden_states["tf.2"]
    tiny_base.train()
    assert not tiny_base.model.training and tiny_base.model.config.layerdrop == 0.0
    second = tiny_base(waves(16000)).hidden_states["tf.2"]
    assert torch.equal(first, second)


def test_device_argument_and_task_head_unwrapping() -> None:
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC
    from upstream_helpers import TINY

    upstream = tiny("wav2vec2", device="cpu")
    assert upstream.device == torch.device("cpu")
    torch.manual_seed(0)
    ctc = Wav2Vec2ForCTC(Wav2Vec2Config(**TINY))
    wrapped = HFSpeechUpstream(ctc, name="ctc", device=torch.device("cpu"))
    assert wrapped.model is ctc.wav2vec2
    assert wrapped(waves(16000), layers="tf.2").hidden_states["tf.2"].shape == (1, 49, 32)


def test_full_base_size_random_network() -> None:
    """The full wav2vec2-base geometry (94 M parameters) from configs/upstream/base_random.yaml."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
    from upstream_helpers import CONFIG_DIR

    upstream = instantiate(OmegaConf.load(CONFIG_DIR / "base_random.yaml"))
    assert sum(p.numel() for p in upstream.model.parameters()) > 90_000_000
    out = upstream(waves(16000), layers=["cnn.0", "tf.12"])
    assert out.hidden_states["cnn.0"].shape == (1, 3199, 512)
    assert out.hidden_states["tf.12"].shape == (1, 49, 768)
    assert upstream.layer_names[-1] == "tf.12"


# --------------------------------------------------------------------------------------------------
# Fingerprint
# --------------------------------------------------------------------------------------------------


def test_fingerprint_identity(tiny_base: HFSpeechUpstream) -> None:
    fingerprint = tiny_base.fingerprint()
    json.dumps(fingerprint)  # JSON-able
    assert fingerprint["class"] == "HFSpeechUpstream"
    assert fingerprint["name"] == "random:wav2vec2"
    assert fingerprint["origin"] == {"source": "random", "seed": 0, "config_from": "wav2vec2"}
    assert fingerprint["config"]["hidden_size"] == 32
    assert set(fingerprint["versions"]) == {"transformers", "torch"}
    assert tiny("wav2vec2").fingerprint() == fingerprint  # same seed and config: same identity
    assert tiny("wav2vec2", seed=1).fingerprint() != fingerprint
    assert tiny("wav2vec2", seed=1).fingerprint()["weights_sha256"] != fingerprint["weights_sha256"]
    assert tiny("wav2vec2", large=True).fingerprint()["config"] != fingerprint["config"]
    assert tiny("wav2vec2", normalize=True).fingerprint() != fingerprint


def test_generic_feature_dim_matches_the_declared_one(tiny_large: HFSpeechUpstream) -> None:
    from speechrep.upstream import Upstream

    for layer in ("cnn.0", "tf.1", FINAL_LAYER):
        assert Upstream.feature_dim(tiny_large, layer) == tiny_large.feature_dim(layer) == 32
