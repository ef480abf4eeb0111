"""Every primary config and every experiment composes, and what they describe instantiates.

Hub checkpoints cannot be loaded offline, so for those the target's signature is checked against
the config's arguments instead; everything that runs offline (random-init models, mel, readers
pointed at folders) is instantiated for real.
"""

from __future__ import annotations

import inspect
import re

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_method, instantiate
from omegaconf import OmegaConf, open_dict

from tests.conftest import PROJECT_ROOT

CONFIGS = PROJECT_ROOT / "configs"
PRIMARY = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
OFFLINE_UPSTREAMS = {"tiny_random", "tiny_random_large", "base_random", "mel"}


def compose_config(name: str, overrides: list[str] = ()):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # what @hydra.main does before the script runs
    with open_dict(cfg):
        del cfg["hydra"]  # its sweep keys only resolve inside a multirun job
        cfg.paths.root_dir = str(PROJECT_ROOT)
        cfg.paths.output_dir = "/tmp/speechrep-config-test"
    return cfg


def assert_target_accepts(node) -> None:
    """The ``_target_`` exists and its signature binds the node's arguments."""
    target = get_method(node._target_)
    names = [k for k in node.keys() if not str(k).startswith("_")]  # values may be mandatory (???)
    inspect.signature(target).bind_partial(**dict.fromkeys(names))


def entry_of(experiment: str) -> str:
    text = (CONFIGS / "experiment" / f"{experiment}.yaml").read_text()
    match = re.search(r"^# entry: (\w+)$", text, flags=re.MULTILINE)
    assert match, f"experiment/{experiment}.yaml must name its entry config ('# entry: <name>')"
    return match.group(1)


def test_there_is_something_to_test():
    assert {"extract_features", "synthesize", "report"} <= set(PRIMARY)
    assert len(EXPERIMENTS) >= 3


@pytest.mark.parametrize("name", PRIMARY)
def test_primary_config_composes_and_resolves(name):
    cfg = compose_config(name)
    assert "seed" in cfg and "task_name" in cfg
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_with_its_entry(experiment):
    entry = entry_of(experiment)
    assert entry in PRIMARY, f"experiment/{experiment}.yaml names unknown entry {entry!r}"
    cfg = compose_config(entry, [f"experiment={experiment}"])
    assert cfg.task_name == experiment
    if "extraction" in cfg:
        instantiate(cfg.extraction)
        assert_target_accepts(cfg.upstream)


@pytest.mark.parametrize("upstream", sorted(p.stem for p in (CONFIGS / "upstream").glob("*.yaml")))
def test_every_upstream_config(upstream):
    cfg = compose_config("extract_features", [f"upstream={upstream}"])
    assert_target_accepts(cfg.upstream)
    if upstream in OFFLINE_UPSTREAMS and upstream != "base_random":
        model = instantiate(cfg.upstream)
        assert model.layer_names, upstream


@pytest.mark.parametrize("dataset", sorted(p.stem for p in (CONFIGS / "dataset").glob("*.yaml")))
def test_every_dataset_config_targets_a_reader(dataset):
    cfg = compose_config("extract_features", [f"dataset={dataset}"])
    assert_target_accepts(cfg.dataset)


def test_extraction_settings_instantiate_from_the_default_config():
    cfg = compose_config("extract_features")
    settings = instantiate(cfg.extraction, _convert_="all")
    assert settings.span == "frame" and settings.layers is None
