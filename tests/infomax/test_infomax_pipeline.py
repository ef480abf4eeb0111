"""End to end on a tiny synthetic corpus: train an encoder, probe it, train a decoder (real configs)."""

from __future__ import annotations

import json

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from modellib_addons.infomax_upstream import infomax_upstream
from speechrep.data.synth.syllables import synthesize_syllables
from speechrep.infomax.pipeline import run_probe_from_config, train_decoder_from_config, train_encoder
from tests.conftest import PROJECT_ROOT

WORDS = ["babagu", "digudi", "gubadi", "dadada", "bibubi", "gagigu", "bubaba", "didada"]
# The trainer node is given inline, so the test does not depend on configs/trainer's defaults.
TRAINER = ["~trainer", "++trainer._target_=speechrep.train.TrainerConfig", "++trainer.cpu=true"]
TRAINER += [
    "++trainer.out_dir=unused",
    "++trainer.max_steps=2",
    "++trainer.batch_size=4",
    "++trainer.val_every=2",
]


def compose_cfg(name: str, out_dir, overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.root_dir = str(PROJECT_ROOT)
        cfg.paths.output_dir = str(out_dir)
    return cfg


@pytest.mark.slow
def test_train_probe_decode_and_export(tmp_path):
    corpus = tmp_path / "corpus"
    synthesize_syllables(corpus, voices=("it+m1", "it+f2"), words=WORDS, test_fraction=0.25, seed=0)
    small = ["+model.conv_channels=8", "+model.recurrent_dim=4", f"dataset.root={corpus}"]
    cfg = compose_cfg("train_infomax", tmp_path, ["experiment=sim_syllables", *small, *TRAINER])
    results = train_encoder(cfg, tmp_path / "sim")
    encoder_dir = tmp_path / "sim" / "encoder"
    assert json.loads((tmp_path / "sim" / "results.json").read_text())["seed"] == 0
    assert results["train"]["steps"] == 2
    upstream = infomax_upstream(encoder_dir)
    assert upstream([torch.zeros(10240)], "module.2").hidden_states["module.2"].shape == (1, 64, 8)

    for task, extra in (("vowel", ["dataset.level=syllable"]), ("phone", []), ("speaker", [])):
        out = tmp_path / f"probe_{task}"
        out.mkdir()
        overrides = [f"encoder_dir={encoder_dir}", f"dataset.root={corpus}", f"task={task}", "probe.epochs=2"]
        probe = run_probe_from_config(compose_cfg("probe", out, [*overrides, *extra]), out)
        assert 0.0 <= probe["test_accuracy"] <= 1.0 and probe["module"] == "module.3"
        assert (out / "probe.safetensors").is_file()
    assert probe["num_classes"] == 2 and probe["train_rows"] == 12  # speakers; 6 train words x 2 voices

    overrides = [f"encoder_dir={encoder_dir}", f"dataset.root={corpus}", "module=2", "hidden_channels=8"]
    overrides += ["data.crop_samples=10240", "loss.mel=1.0", *TRAINER]
    decoded = train_decoder_from_config(compose_cfg("train_decoder", tmp_path, overrides), tmp_path / "dec")
    assert decoded["module"] == "module.2" and (tmp_path / "dec" / "decoder.safetensors").is_file()
