"""Encoder geometry, sampling switches, gradient isolation and checkpoint round trips."""

from __future__ import annotations

import math

import pytest
import torch

from speechrep.infomax import GreedyInfoMax, InfoMaxConfig, InfoMaxEncoder, infomax_config
from speechrep.infomax.geometry import conv_lengths, frame_geometry


def small(preset: str = "sim", **overrides) -> InfoMaxConfig:
    """The real conv geometry with narrow layers (frame counts depend only on the geometry)."""
    return infomax_config(preset, conv_channels=16, recurrent_dim=8, **overrides)


@pytest.mark.parametrize(
    ("num_samples", "expected"),
    [(20480, [1023, 257, 128]), (10240, [511, 129, 64]), (8821, [441, 111, 55])],
)
def test_frame_counts_per_module_match_sim(num_samples, expected):
    encoder = InfoMaxEncoder(small())
    assert [encoder.num_frames(m, num_samples) for m in range(3)] == expected
    assert encoder.num_frames(3, num_samples) == expected[-1]  # the GRU keeps the frame rate
    with torch.no_grad():
        out = encoder(torch.randn(1, num_samples) * 0.1)
    assert [m.latent.shape[1] for m in out.modules] == [*expected, expected[-1]]
    assert [m.latent.shape[2] for m in out.modules] == [16, 16, 16, 8]


def test_last_conv_module_runs_at_100_hz():
    encoder = InfoMaxEncoder(small())
    for seconds in (1, 2, 3):
        assert encoder.num_frames(2, 16000 * seconds) == 100 * seconds
    geometry = encoder.geometry(2)
    assert (geometry.hop, geometry.receptive_field, geometry.offset) == (160, 465, -212)
    assert [encoder.geometry(m).hop for m in range(3)] == [20, 80, 160]
    assert all(int(geometry.center(i)) // 160 == i for i in range(200))  # frame i lies in label frame i


def test_geometry_helpers_on_a_hand_computed_stack():
    assert conv_lengths(10, [3, 2], [1, 2], [0, 1]) == [8, 5]
    assert conv_lengths(2, [3], [1], [0]) == [0]
    g = frame_geometry([3, 2], [1, 2], [0, 1])
    assert (g.hop, g.receptive_field, g.offset) == (2, 4, -1)


def test_deterministic_mode_returns_mu_exactly_and_repeatably():
    encoder = InfoMaxEncoder(small(deterministic=True)).train()  # train mode must not switch sampling on
    wave = torch.randn(2, 3200) * 0.1
    first, second = encoder(wave), encoder(wave)
    for a, b in zip(first.modules[:3], second.modules[:3]):
        assert torch.equal(a.latent, a.mu)
        assert torch.equal(a.latent, b.latent)


def test_eval_mode_does_not_stop_sampling():
    encoder = InfoMaxEncoder(small()).eval()
    wave = torch.randn(1, 3200) * 0.1
    out = encoder(wave)
    assert not torch.equal(out.modules[0].latent, out.modules[0].mu)
    assert not torch.equal(out.modules[0].context, out.modules[0].target)  # two independent samples
    single = encoder(wave, two_samples=False)
    assert torch.equal(single.modules[0].context, single.modules[0].target)


def test_samples_have_the_posterior_mean_and_variance():
    torch.manual_seed(0)
    encoder = InfoMaxEncoder(small()).eval()
    wave = torch.randn(1, 200) * 0.1
    with torch.no_grad():
        module = encoder.conv_modules[0]
        draws = torch.stack(
            [module(wave.view(1, 1, -1), sample=True, two_samples=False).latent for _ in range(4000)]
        )
        ref = module(wave.view(1, 1, -1), sample=False, two_samples=False)
    assert torch.allclose(draws.mean(0), ref.mu, atol=0.1)
    assert torch.allclose(draws.var(0).log(), ref.logvar, atol=0.15)


def test_gim_has_no_logvar_head_and_outputs_mu():
    encoder = InfoMaxEncoder(small("gim"))
    assert all(m.logvar_head is None for m in encoder.conv_modules)
    out = encoder(torch.randn(1, 3200) * 0.1)
    assert all(m.logvar is None and torch.equal(m.latent, m.mu) for m in out.modules[:3])


def test_sim_with_zero_kl_weight_still_samples():
    out = InfoMaxEncoder(small(kl_weight=0.0))(torch.randn(1, 3200) * 0.1)
    assert not torch.equal(out.modules[1].latent, out.modules[1].mu)


def test_module_loss_reaches_only_its_own_module():
    torch.manual_seed(0)
    model = GreedyInfoMax(small())
    wave = torch.randn(2, 4800) * 0.1
    out = model.encoder(wave)
    loss = model.losses[1](out.modules[1].context, out.modules[1].target).loss
    loss.backward()
    grads = [
        [p.grad for p in module.parameters()] for module in [*model.encoder.conv_modules, model.encoder.gru]
    ]
    assert all(g is None for g in grads[0])  # module 0 is upstream of module 1: isolated
    assert all(g is not None and g.abs().sum() > 0 for g in grads[1])
    assert all(g is None for g in grads[2] + grads[3])


def test_summed_loss_gives_the_gradients_of_separate_backward_passes():
    config = small("gim", batch_norm=False)
    wave = torch.randn(2, 4800) * 0.1
    torch.manual_seed(1)
    model = GreedyInfoMax(config)
    torch.manual_seed(2)
    model.module_losses(wave)[0].backward()
    summed = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    torch.manual_seed(2)
    out = model.encoder(wave)
    for module_out, objective in zip(out.modules, model.losses):
        objective(module_out.context, module_out.target).loss.backward(retain_graph=True)
    separate = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert summed.keys() == separate.keys()
    assert all(torch.allclose(summed[n], separate[n], atol=1e-6) for n in summed)


def test_cpc_loss_reaches_the_first_conv_layer():
    model = GreedyInfoMax(small("cpc"))
    assert model.config.num_modules == 1
    loss = model.training_step({"wave": torch.randn(2, 4800) * 0.1})["loss"]
    loss.backward()
    first_conv = model.encoder.conv_modules[0].convs[0]
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0


def test_vgim_preset_has_two_modules_with_small_latents():
    config = InfoMaxConfig.vgim(conv_channels=16)
    encoder = InfoMaxEncoder(config)
    assert config.num_modules == 2 and config.steps_per_module() == (12, 4)
    out = encoder(torch.randn(1, 20480) * 0.1)
    assert [m.latent.shape[1:] for m in out.modules] == [(512, 32), (128, 16)]
    assert out.modules[1].target.shape[-1] == 32  # the joined GRU predicts the head's samples


def test_module_indices_count_from_either_end_and_unknown_ones_fail():
    encoder = InfoMaxEncoder(InfoMaxConfig.cpc(conv_channels=8, recurrent_dim=4))  # one module
    assert encoder.resolve_module(0) == encoder.resolve_module(-1) == 0
    with pytest.raises(ValueError, match="module 2 does not exist; the encoder has 1"):
        encoder.resolve_module(2)
    assert InfoMaxEncoder(small()).resolve_module(-2) == small().num_modules - 2


def test_config_validation_names_the_problem():
    with pytest.raises(ValueError, match="sum to the 5 conv layers"):
        InfoMaxConfig(module_layers=(2, 2))
    with pytest.raises(ValueError, match="prediction_steps"):
        InfoMaxConfig(prediction_steps=(10, 10))
    with pytest.raises(ValueError, match="unknown InfoMaxConfig field"):
        InfoMaxConfig.from_dict({"nonsense": 1})
    assert InfoMaxConfig.from_dict(small().to_dict()) == small()


def test_checkpoint_round_trip_gives_identical_latents(tmp_path):
    encoder = InfoMaxEncoder(small()).eval()
    wave = torch.randn(2, 3200) * 0.1
    encoder.save_pretrained(tmp_path / "enc")
    loaded = InfoMaxEncoder.from_pretrained(tmp_path / "enc")
    for m in range(encoder.config.num_modules):
        assert torch.equal(encoder.encode(wave, m), loaded.encode(wave, m))
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        InfoMaxEncoder.from_pretrained(tmp_path)


def test_chance_level_property():
    assert GreedyInfoMax(small()).losses[0].chance_level == pytest.approx(math.log(11))
