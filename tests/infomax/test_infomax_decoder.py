"""Decoder lengths round-trip, losses, and the frozen-encoder decoder model."""

from __future__ import annotations

import pytest
import torch

from speechrep.infomax import InfoMaxEncoder, infomax_config
from speechrep.infomax.decoder import InfoMaxDecoder, LatentDecoderModel
from speechrep.infomax.decoder_losses import DecoderLoss, DecoderLossConfig, multi_resolution_stft


@pytest.fixture(scope="module")
def encoder() -> InfoMaxEncoder:
    return InfoMaxEncoder(infomax_config("sim", conv_channels=8, recurrent_dim=4))


@pytest.mark.parametrize(
    ("module", "frames", "num_samples"),
    [(2, 64, 10240), (2, 128, 20480), (1, 129, 10240), (0, 511, 10240), (3, 55, 8821), (1, 111, 8821)],
)
def test_decoder_output_length_equals_input_length(encoder, module, frames, num_samples):
    decoder = InfoMaxDecoder(encoder, module, hidden_channels=8)
    assert encoder.num_frames(module, num_samples) == frames
    out = decoder(torch.randn(2, frames, encoder.config.module_dims()[module]), num_samples)
    assert out.shape == (2, num_samples)


def test_decoder_rejects_latents_of_another_length(encoder):
    with pytest.raises(ValueError, match="gives 128 frames"):
        InfoMaxDecoder(encoder, 2, 8)(torch.randn(1, 127, 8), 20480)


def test_losses_are_zero_for_a_perfect_reconstruction_and_positive_otherwise():
    loss = DecoderLoss(DecoderLossConfig(mse=1.0, stft=1.0, multi_stft=1.0, mel=1.0))
    target = torch.randn(2, 4096) * 0.1
    same = loss(target.clone(), target)
    assert set(same) == {"loss", "mse", "stft", "multi_stft", "mel"}
    assert same["loss"].item() == pytest.approx(0.0, abs=1e-6)
    assert loss(target * 0.5, target)["loss"].item() > 0.1
    # spectral convergence + log-magnitude at 1/2 amplitude: 0.5 + log 2 per resolution
    assert multi_resolution_stft(target * 0.5, target, ((512, 128),)).item() == pytest.approx(
        0.5 + 0.6931, abs=1e-3
    )
    with pytest.raises(ValueError, match="one positive"):
        DecoderLossConfig(mse=0.0)


def test_decoder_model_keeps_the_encoder_frozen_in_eval_mode(encoder):
    model = LatentDecoderModel(encoder, InfoMaxDecoder(encoder, 2, 8), DecoderLoss(), sample_latents=False)
    model.train()
    assert not model.encoder.training and model.decoder.training
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameter_groups()[0]["params"], lr=1e-2)
    wave = torch.randn(4, 3200) * 0.1
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        out = model.training_step({"wave": wave})
        out["loss"].backward()
        optimizer.step()
        losses.append(out["loss"].item())
    assert losses[-1] < losses[0]
    assert all(torch.equal(before[k], v) for k, v in model.encoder.state_dict().items())  # BN stats too
    assert all(p.grad is None for p in model.encoder.parameters())
