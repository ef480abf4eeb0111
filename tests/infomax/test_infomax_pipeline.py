"""End to end on a tiny synthetic corpus (real configs): train an encoder, probe it, train a decoder;
compare it with its random init; run the interpretability script."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from modellib_addons.infomax_upstream import infomax_upstream
from speechrep.data.synth.syllables import synthesize_syllables
from speechrep.infomax import InfoMaxEncoder, feature_cache, infomax_config
from speechrep.infomax.comparison import compare_with_random_init
from speechrep.infomax.features import encode_manifest
from speechrep.infomax.pipeline import run_probe_from_config, train_decoder_from_config, train_encoder
from speechrep.train.checkpoint import load_checkpoint_config
from tests.conftest import PROJECT_ROOT, run_entry_script

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
        overrides.append(f"feature_cache={tmp_path / 'features'}")
        probe = run_probe_from_config(compose_cfg("probe", out, [*overrides, *extra]), out)
        assert 0.0 <= probe["test_accuracy"] <= 1.0 and probe["module"] == "module.3"
        assert (out / "probe.safetensors").is_file()
    assert probe["num_classes"] == 2 and probe["train_rows"] == 12  # speakers; 6 train words x 2 voices

    overrides = [f"encoder_dir={encoder_dir}", f"dataset.root={corpus}", "module=2", "hidden_channels=8"]
    overrides += ["data.crop_samples=10240", "loss.mel=1.0", *TRAINER]
    decoded = train_decoder_from_config(compose_cfg("train_decoder", tmp_path, overrides), tmp_path / "dec")
    assert decoded["module"] == "module.2" and (tmp_path / "dec" / "decoder.safetensors").is_file()


def test_compare_trained_with_random_init_encodes_each_module_once(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    synthesize_syllables(corpus, voices=("it+m1", "it+f2"), words=WORDS, test_fraction=0.25, seed=0)
    encoded = []

    def counting(encoder, manifest, modules, **kwargs):
        encoded.append(list(modules))
        return encode_manifest(encoder, manifest, modules, **kwargs)

    monkeypatch.setattr(feature_cache, "encode_manifest", counting)
    overrides = ["+model.conv_channels=8", "+model.recurrent_dim=4", f"dataset.root={corpus}"]
    overrides += ["probe.epochs=2", "modules=[-1,0]", f"feature_cache={tmp_path / 'features'}", "seed=3"]
    out = tmp_path / "compare"
    result = compare_with_random_init(compose_cfg("compare_infomax", out, [*overrides, *TRAINER]), out)

    assert encoded == [[0, 3]] * 4  # (trained, random init) x (train, test) clips, each module once
    assert (
        result["train"]["steps"] == 2
        and result["seed"] == 3
        and result["modules"] == ["module.0", "module.3"]
    )
    assert (out / "train" / "encoder" / "model.safetensors").is_file()
    checkpoint = load_checkpoint_config(result["train"]["last_checkpoint"])
    assert checkpoint["run"]["seed"] == 3 and checkpoint["run"]["task_name"] == "compare_infomax"
    syllables = {word[i : i + 2] for word in WORDS for i in (0, 2, 4)}
    for task, classes in (("vowel", 3), ("syllable", len(syllables))):
        for module in ("module.0", "module.3"):
            scores = result["tasks"][task][module]
            assert scores["chance"] == pytest.approx(1 / classes) and scores["num_classes"] == classes
            assert scores["test_rows"] == 2 * 2 * 3  # 2 test words x 2 voices x 3 syllables
            gap = scores["trained"]["test_accuracy"] - scores["random_init"]["test_accuracy"]
            assert scores["trained_minus_random"] == pytest.approx(gap)
        wins = all(result["tasks"][t]["module.3"]["trained_minus_random"] > 0 for t in ("vowel", "syllable"))
        assert result["trained_beats_random"]["module.3"] == wins
    saved = json.loads((out / "comparison.json").read_text())
    assert saved["config"]["seed"] == 3 and saved["tasks"] == result["tasks"]
    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert len(rows) == 2 * 2 * 2 and rows[0]["task"] == "vowel" and rows[0]["module"] == "module.0"
    trained = result["tasks"]["syllable"]["module.3"]["trained"]["test_accuracy"]
    assert float(rows[-2]["test_accuracy"]) == pytest.approx(trained) and rows[-2]["encoder"] == "trained"


@pytest.mark.slow
def test_interpret_script_writes_results_and_plots(tmp_path):
    corpus = tmp_path / "corpus"
    synthesize_syllables(corpus, voices=("it+m1", "it+f2"), words=WORDS, test_fraction=0.25, seed=0)
    config = infomax_config("sim", conv_channels=8, recurrent_dim=4, batch_norm=False)
    encoder_dir = InfoMaxEncoder(config).save_pretrained(tmp_path / "encoder")
    common = [f"encoder_dir={encoder_dir}", f"dataset.root={corpus}"]
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    overrides = [
        *common,
        "task=vowel",
        "dataset.level=syllable",
        "module=0",
        "probe.bias=false",
        "probe.standardize=false",
    ]
    overrides += ["probe.epochs=1", f"feature_cache={tmp_path / 'features'}"]
    run_probe_from_config(compose_cfg("probe", probe_dir, overrides), probe_dir)
    overrides = [*common, "module=2", "hidden_channels=4", "data.crop_samples=3200", *TRAINER]
    train_decoder_from_config(compose_cfg("train_decoder", tmp_path, overrides), tmp_path / "decoder")

    out = tmp_path / "interpret"
    run_entry_script(
        "interpret_infomax",
        *common,
        f"probes=[{probe_dir}]",
        f"decoder_dir={tmp_path / 'decoder'}",
        "split=train",
        "max_utterances=20",
        *("interpolation.num_latents=4", "histograms.dims=3", "total_correlation.frames=300"),
        *(f"feature_cache={tmp_path / 'features'}", "seed=2", f"hydra.run.dir={out}"),
    )

    results = json.loads((out / "results.json").read_text())
    assert results["seed"] == 2 and results["config"]["decoder_dir"] == str(tmp_path / "decoder")
    assert list(results["modules"]) == ["module.0", "module.1", "module.2", "module.3"]
    last = results["modules"]["module.3"]
    assert len(last["tsne"]["x"]) == results["num_utterances"] == 20
    assert set(last["tsne"]["labels"]) <= {"a", "i", "u"}
    assert last["histograms"]["dims"] == [0, 1, 2]
    assert all(0.0 <= tv <= 1.0 for tv in last["histograms"]["tv_distance"])
    assert last["total_correlation"]["subset_dims"] == 4 and len(last["total_correlation"]["subsets"]) == 3
    density = results["weight_densities"][0]
    assert density["module"] == "module.0" and density["task"] == "vowel" and not density["bias"]
    scores = results["interpolation"]
    assert scores["module"] == "module.2" and scores["ks"] == [2, 4, 8]
    assert scores["relative"][-1] == pytest.approx(0.0, abs=1e-6)  # all dims swapped: z_j itself
    pngs = {p.name for p in out.glob("*.png")}
    assert {"weight_densities.png", "interpolation_scores.png", "total_correlation.png"} <= pngs
    assert {f"tsne_module.{m}.png" for m in range(4)} | {
        f"histograms_module.{m}.png" for m in range(4)
    } <= pngs
