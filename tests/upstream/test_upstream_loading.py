"""load_upstream: random init and seeds, local directories, do_normalize, errors, the YAML configs."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from transformers import BertConfig, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model
from upstream_helpers import CONFIG_DIR, TINY, TINY_LARGE, tiny, waves

from speechrep.upstream import HFSpeechUpstream, MelUpstream, load_upstream


def _state(upstream: HFSpeechUpstream) -> dict[str, torch.Tensor]:
    return upstream.model.state_dict()


def _same_weights(a: HFSpeechUpstream, b: HFSpeechUpstream) -> bool:
    state_a, state_b = _state(a), _state(b)
    return state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.fixture()
def saved_large(tmp_path: Path) -> tuple[Path, HFSpeechUpstream]:
    """A tiny large-geometry model written by save_pretrained (no feature-extractor config yet)."""
    source = tiny("wav2vec2", large=True, seed=7)
    directory = tmp_path / "tiny-large"
    source.model.save_pretrained(directory)
    return directory, source


# --------------------------------------------------------------------------------------------------
# Random init
# --------------------------------------------------------------------------------------------------


def test_same_seed_same_weights_different_seed_different() -> None:
    rng_before = torch.random.get_rng_state()
    first, again, other = tiny(seed=3), tiny(seed=3), tiny(seed=4)
    assert torch.equal(torch.random.get_rng_state(), rng_before), "the global RNG must be left untouched"
    assert _same_weights(first, again)
    assert not _same_weights(first, other)
    assert first.weights_sha256() == again.weights_sha256() != other.weights_sha256()


@pytest.mark.parametrize("family", ["wav2vec2", "hubert", "wavlm", "data2vec-audio"])
def test_every_family_builds_from_its_name(family: str) -> None:
    upstream = tiny(family)
    assert upstream.name == f"random:{family}"
    assert upstream.model.config.model_type == family
    out = upstream(waves(16000), layers=["cnn.0", "tf.2"])
    assert out.hidden_states["cnn.0"].shape == (1, 3199, 32)
    assert out.hidden_states["tf.2"].shape == (1, 49, 32)


def test_config_overrides_are_applied_and_checked() -> None:
    upstream = load_upstream(
        "wav2vec2",
        random_init=True,
        config_overrides={
            **TINY,
            "conv_dim": [16, 16, 16],
            "conv_kernel": [10, 8, 4],
            "conv_stride": [5, 4, 2],
        },
    )
    assert upstream.layer_names[:4] == ["cnn.0", "cnn.1", "cnn.2", "tf.0"]
    assert upstream.hop_length("tf.0") == 40 and upstream.num_frames("tf.0", 16000) == 398
    assert upstream.model.config.num_feat_extract_layers == 3
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['hiden_size'\]"):
        load_upstream("wav2vec2", random_init=True, config_overrides={"hiden_size": 32})
    with pytest.raises(ValueError, match="model_type cannot be overridden"):
        load_upstream("wav2vec2", random_init=True, config_overrides={"model_type": "hubert"})


def test_config_overrides_accept_omegaconf_nodes() -> None:
    node = OmegaConf.create({"config_overrides": TINY}).config_overrides
    upstream = load_upstream("wav2vec2", random_init=True, config_overrides=node)
    assert list(upstream.model.config.conv_dim) == [32] * 7
    json.dumps(upstream.fingerprint())


def test_random_init_from_a_checkpoint_config(saved_large) -> None:
    directory, source = saved_large
    upstream = load_upstream(str(directory), random_init=True, seed=1)
    assert upstream.name == f"random:{directory}"
    assert upstream.model.config.do_stable_layer_norm and upstream.model.config.hidden_size == 32
    assert not _same_weights(upstream, source)
    assert upstream.fingerprint()["origin"] == {"source": "random", "seed": 1, "config_from": str(directory)}


# --------------------------------------------------------------------------------------------------
# Local directories and the checkpoint's own normalisation
# --------------------------------------------------------------------------------------------------


def test_local_directory_roundtrip(saved_large) -> None:
    directory, source = saved_large
    loaded = load_upstream(str(directory))
    assert loaded.name == str(directory.resolve())
    assert loaded.fingerprint()["origin"] == {"source": "local", "path": str(directory.resolve())}
    assert _same_weights(loaded, source)
    assert loaded.normalize is True  # no preprocessor_config.json: "layer" feature encoder default
    batch = waves(16000, 9000)
    for layer, states in loaded(batch).hidden_states.items():
        assert torch.equal(states, source(batch).hidden_states[layer]), layer
    assert loaded.weights_sha256() == source.weights_sha256()


@pytest.mark.parametrize("do_normalize", [False, True])
def test_local_directory_honours_do_normalize(saved_large, do_normalize: bool) -> None:
    directory, _ = saved_large
    Wav2Vec2FeatureExtractor(do_normalize=do_normalize, return_attention_mask=True).save_pretrained(directory)
    assert load_upstream(str(directory)).normalize is do_normalize
    assert load_upstream(str(directory), normalize=not do_normalize).normalize is (not do_normalize)


def test_group_norm_checkpoint_without_preprocessor_is_not_normalised(tmp_path: Path) -> None:
    torch.manual_seed(0)
    Wav2Vec2Model(Wav2Vec2Config(**TINY)).save_pretrained(tmp_path / "base")
    assert load_upstream(str(tmp_path / "base")).normalize is False


def test_task_head_checkpoints_load_as_their_encoder(tmp_path: Path) -> None:
    from transformers import Wav2Vec2ForCTC

    torch.manual_seed(0)
    ctc = Wav2Vec2ForCTC(Wav2Vec2Config(**TINY_LARGE))
    ctc.save_pretrained(tmp_path / "ctc")
    loaded = load_upstream(str(tmp_path / "ctc"))
    assert type(loaded.model) is Wav2Vec2Model
    assert torch.equal(
        loaded.model.encoder.layers[0].attention.q_proj.weight,
        ctc.wav2vec2.encoder.layers[0].attention.q_proj.weight,
    )


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def test_clear_errors_for_paths_without_a_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"holds no model: no config\.json"):
        load_upstream(str(tmp_path / "empty"))
    (tmp_path / "model.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="is a file"):
        load_upstream(str(tmp_path / "model.pt"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_upstream(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_upstream("./no/such/model")
    Wav2Vec2Config(**TINY).save_pretrained(tmp_path / "config-only")
    with pytest.raises(ValueError, match="no loadable weights"):
        load_upstream(str(tmp_path / "config-only"))
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path / "bert")
    with pytest.raises(ValueError, match="model type 'bert' is not supported"):
        load_upstream(str(tmp_path / "bert"))


def test_family_names_need_random_init() -> None:
    with pytest.raises(ValueError, match="model family, not a checkpoint"):
        load_upstream("hubert")


def test_mel_through_the_loader() -> None:
    mel = load_upstream("mel")
    assert isinstance(mel, MelUpstream) and mel.feature_dim("mel") == 80
    assert load_upstream("mel", config_overrides={"n_mels": 40}).feature_dim("mel") == 40
    with pytest.raises(ValueError, match=r"unknown mel setting\(s\) \['n_mel'\]"):
        load_upstream("mel", config_overrides={"n_mel": 40})
    with pytest.raises(ValueError, match="no weights"):
        load_upstream("mel", random_init=True)


# --------------------------------------------------------------------------------------------------
# configs/upstream/*.yaml
# --------------------------------------------------------------------------------------------------

#: Upstream configs built by load_upstream; adapters of other model libraries (modellib_addons/)
#: have their own targets and tests.
ADDON_CONFIGS = {"fairseq_checkpoint", "infomax"}  # built by modellib_addons (tested there)
CONFIGS = sorted(path for path in CONFIG_DIR.glob("*.yaml") if path.stem not in ADDON_CONFIGS)
HUB_CONFIGS = {
    "wav2vec2_base": "facebook/wav2vec2-base",
    "wav2vec2_large": "facebook/wav2vec2-large-lv60",
    "hubert_base": "facebook/hubert-base-ls960",
    "hubert_large": "facebook/hubert-large-ll60k",
    "wavlm_base": "microsoft/wavlm-base",
    "wavlm_large": "microsoft/wavlm-large",
    "xlsr_300m": "facebook/wav2vec2-xls-r-300m",
    "data2vec_audio_base": "facebook/data2vec-audio-base",
}


def test_every_upstream_config_exists() -> None:
    names = {path.stem for path in CONFIGS}
    assert names == set(HUB_CONFIGS) | {"tiny_random", "tiny_random_large", "base_random", "mel"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_config_targets_load_upstream_with_valid_arguments(path: Path) -> None:
    config = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    assert config.pop("_target_") == "speechrep.upstream.load_upstream"
    parameters = inspect.signature(load_upstream).parameters
    assert set(config) <= set(parameters), set(config) - set(parameters)
    if path.stem in HUB_CONFIGS:
        assert config["name_or_path"] == HUB_CONFIGS[path.stem]
        assert config["random_init"] is False and config["normalize"] is None


@pytest.mark.parametrize(
    ("name", "large"),
    [("tiny_random", False), ("tiny_random_large", True)],
)
def test_tiny_configs_instantiate(name: str, large: bool) -> None:
    upstream = instantiate(OmegaConf.load(CONFIG_DIR / f"{name}.yaml"))
    assert isinstance(upstream, HFSpeechUpstream)
    assert upstream.stable_layer_norm is large and upstream.pads_exactly is large
    assert upstream(waves(16000), layers="tf.2").hidden_states["tf.2"].shape == (1, 49, 32)


def test_mel_config_instantiates() -> None:
    assert isinstance(instantiate(OmegaConf.load(CONFIG_DIR / "mel.yaml")), MelUpstream)
