"""scripts/evaluate_latents.py and speechrep.decvae.latent_evaluation: baselines on samplers, saved codes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from speechrep.data.simvowels import SimVowelsSampler
from speechrep.data.synth.sampler import SyntheticSpeechSampler
from speechrep.decvae.latent_evaluation import evaluate_latents, load_codes
from speechrep.metrics.evaluate import FIXED_DATA_METRICS
from tests.conftest import run_entry_script
from tests.test_configs import compose_config

TINY = [
    "num_fit=80",
    "num_eval=120",
    "baselines=[pca]",
    "features=[mel]",
    "n_components={mel: 4}",
    "++metric_options.dci.num_train=80",
    "++metric_options.dci.num_test=40",
    "+metric_options.sap={num_train: 80, num_test: 40}",
    "+metric_options.modularity_explicitness={num_train: 80, num_test: 40}",
    "classification.n_splits=2",
]


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_entry_script_writes_results_with_config_and_seed(tmp_path):
    out = tmp_path / "run"
    run_entry_script(
        "evaluate_latents",
        "experiment=simvowels_baselines",
        "seed=5",
        *TINY,
        "interventional_metrics=[beta_vae]",
        "+interventional_options.beta_vae={batch_size: 4, num_train: 20, num_eval: 10}",
        f"hydra.run.dir={out}",
    )
    document = json.loads((out / "results.json").read_text())
    assert document["seed"] == 5 and document["config"]["task_name"] == "simvowels_baselines"
    assert document["config"]["fit_sampler_overrides"] == {"split": "train"}
    assert document["factor_names"] == ["vowel", "speaker", "f0"] and "numpy" in document["versions"]
    entry = document["representations"]["pca_mel"]
    assert {row["metric"] for row in entry["metrics"]["rows"]} == set(FIXED_DATA_METRICS)
    assert entry["interventional"]["rows"][0]["metric"] == "beta_vae"
    assert set(entry["classification"]) == {"vowel", "speaker", "f0"}
    assert set(entry["classification"]["vowel"]) == {"logistic", "kmeans"}
    rows = read_csv(out / "results.csv")
    assert {row["kind"] for row in rows} == {"metric", "interventional", "classification", "clustering"}
    assert {row["seed"] for row in rows} == {"5"} and {row["representation"] for row in rows} == {"pca_mel"}
    assert (out / ".hydra" / "config.yaml").is_file()


def test_saved_codes_of_a_perfect_encoder(tmp_path):
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(5, size=300), rng.integers(4, size=300)], axis=1)
    codes = np.concatenate(
        [factors + 0.05 * rng.standard_normal(factors.shape), rng.standard_normal((300, 2))], 1
    )
    groups = np.repeat(np.arange(30), 10)
    np.savez(
        tmp_path / "latents.npz",
        codes=codes,
        factors=factors,
        groups=groups,
        factor_names=["vowel", "speaker"],
    )
    cfg = OmegaConf.to_container(compose_config("evaluate_latents", TINY), resolve=True)
    cfg.update(codes_path=str(tmp_path / "latents.npz"), out_dir=str(tmp_path / "out"))
    document = evaluate_latents(cfg)
    entry = document["representations"]["latents"]
    scores = {f"{r['metric']}/{r['score']}": r["value"] for r in entry["metrics"]["rows"]}
    assert scores["dci/informativeness_test"] > 0.95 and scores["dci/disentanglement"] > 0.8
    assert entry["classification"]["vowel"]["logistic"]["mean"] > 0.95
    assert entry["classification"]["speaker"]["logistic"]["num_groups"] == 30
    assert (tmp_path / "out" / "results.csv").is_file()


def test_codes_files_are_checked(tmp_path):
    np.savez(tmp_path / "bad.npz", codes=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="factors"):
        load_codes(tmp_path / "bad.npz")
    np.savez(tmp_path / "float.npz", codes=np.zeros((4, 2)), factors=np.zeros(4))
    with pytest.raises(ValueError, match="integer"):
        load_codes(tmp_path / "float.npz")
    np.savez(
        tmp_path / "names.npz", codes=np.zeros((4, 2)), factors=np.zeros((4, 2), int), factor_names=["a"]
    )
    with pytest.raises(ValueError, match="1 factor_names for 2"):
        load_codes(tmp_path / "names.npz")
    np.savez(tmp_path / "ok.npz", codes=np.zeros((4, 2)), factors=np.arange(4))
    assert load_codes(tmp_path / "ok.npz")["factors"].shape == (4, 1)


def test_sampler_configs_instantiate():
    cfg = compose_config("evaluate_latents", ["experiment=simvowels_baselines"])
    sampler = instantiate(cfg.sampler)
    assert isinstance(sampler, SimVowelsSampler) and sampler.split == "test"
    assert instantiate(cfg.sampler, **cfg.fit_sampler_overrides).split == "train"
    cfg = compose_config("evaluate_latents", ["experiment=synthetic_speech_baselines"])
    assert isinstance(instantiate(cfg.sampler), SyntheticSpeechSampler)


def test_baselines_on_synthetic_speech(tmp_path):
    overrides = ["experiment=synthetic_speech_baselines", *TINY, "sampler.voices=[en-us+m3,en-us+f2]"]
    cfg = OmegaConf.to_container(compose_config("evaluate_latents", overrides), resolve=True)
    cfg["out_dir"] = str(tmp_path)
    document = evaluate_latents(cfg)
    assert document["factor_names"] == ["voice", "pitch", "rate", "word"]
    entry = document["representations"]["pca_mel"]
    assert entry["metrics"]["num_factors"] == 4 and entry["metrics"]["num_points"] == 120
    assert 0 <= entry["classification"]["voice"]["kmeans"]["accuracy"] <= 1
