"""InfoMax encoders as upstreams: layer names, geometry, exact batching and checkpoint loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from modellib_addons.infomax_upstream import infomax_upstream
from speechrep.infomax import InfoMaxEncoder, infomax_config

SMALL = {"conv_channels": 8, "recurrent_dim": 4}


@pytest.fixture(scope="module")
def upstream():
    return infomax_upstream(preset="sim", config_overrides=SMALL, seed=0)


def test_layers_and_geometry(upstream):
    assert upstream.layer_names == ["module.0", "module.1", "module.2", "module.3"]
    assert [upstream.hop_length(layer) for layer in upstream.layer_names] == [20, 80, 160, 160]
    assert upstream.num_frames("module.2", 20480) == 128 and upstream.feature_dim("module.3") == 4
    with pytest.raises(ValueError, match="unknown layer"):
        upstream.hop_length("module.4")


def test_batched_output_equals_unbatched_and_padding_is_zero(upstream):
    torch.manual_seed(0)
    waves = [torch.randn(3200) * 0.1, torch.randn(4000) * 0.1, torch.randn(3200) * 0.1]
    batched = upstream(waves, ["module.1", "module.3"])
    assert batched.lengths["module.1"].tolist() == [upstream.num_frames("module.1", len(w)) for w in waves]
    for i, wave in enumerate(waves):
        alone = upstream([wave], ["module.1", "module.3"])
        for layer in ("module.1", "module.3"):
            n = int(batched.lengths[layer][i])
            assert torch.allclose(
                batched.hidden_states[layer][i, :n], alone.hidden_states[layer][0], atol=1e-6
            )
            assert torch.all(batched.hidden_states[layer][i, n:] == 0)
    assert torch.equal(
        upstream(waves[:1]).hidden_states["module.0"], upstream(waves[:1]).hidden_states["module.0"]
    )


def test_random_init_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = infomax_upstream(preset="gim", config_overrides=SMALL, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = infomax_upstream(preset="gim", config_overrides=SMALL, seed=3)
    wave = [torch.randn(2000) * 0.1]
    assert torch.equal(a(wave).hidden_states["module.2"], b(wave).hidden_states["module.2"])


def test_a_saved_encoder_loads_with_identical_features(tmp_path):
    encoder = InfoMaxEncoder(infomax_config("sim", **SMALL))
    encoder.save_pretrained(tmp_path / "encoder")
    upstream = infomax_upstream(tmp_path / "encoder")
    wave = torch.randn(3200) * 0.1
    expected = encoder.eval().encode(wave.view(1, -1), 2)[0]
    assert torch.equal(upstream([wave], "module.2").hidden_states["module.2"][0], expected)
    assert len(upstream.fingerprint()["origin"]["sha256"]) == 64
    with pytest.raises(ValueError, match="random-init encoders only"):
        infomax_upstream(tmp_path / "encoder", config_overrides=SMALL)


def test_the_upstream_config_instantiates_a_trained_encoder(tmp_path):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    config_path = Path(__file__).resolve().parents[2] / "configs" / "upstream" / "infomax.yaml"
    cfg = OmegaConf.load(config_path)
    random_init = instantiate(cfg, config_overrides=SMALL)
    assert random_init.layer_names == ["module.0", "module.1", "module.2", "module.3"]
    encoder = InfoMaxEncoder(infomax_config("sim", **SMALL))
    encoder.save_pretrained(tmp_path / "encoder")
    trained = instantiate(cfg, path=str(tmp_path / "encoder"))
    wave = torch.randn(3200) * 0.1
    expected = encoder.eval().encode(wave.view(1, -1), 3)[0]
    got = trained([wave], "module.3").hidden_states["module.3"][0]
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)  # the GRU: last-bit BLAS paths
