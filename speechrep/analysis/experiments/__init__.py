"""The experiment layer: each layer-wise analysis run on feature stores from a composed config.

The ``analyze`` config (``configs/analyze.yaml``) names the stores and the ``analysis`` node, whose
``_target_`` is one runner of this package (``configs/analysis/*.yaml``; each experiment in
``configs/experiment/`` picks one and sets it up):

* :func:`.cca.run_cca`: cca_mel, cca_intra, cca_inter, cca_phone, cca_word, cca_agwe, cca_glove
* :func:`.clusters.run_mi`: mi_phone, mi_word
* :func:`.similarity.run_wordsim`: wordsim; :func:`.similarity.run_sts`: sts
* :func:`.cka.run_cka`: cka
* :func:`.discrimination.run_abx`: abx
* :func:`.probing.run_probe`: probe_phone, probe_word, probe_speaker (any label)

Every runner takes the opened stores (keyed by name) plus ``layers``, ``seed``, ``device`` and
``progress``, and returns an :class:`~.results.ExperimentResult`; :func:`run_analysis` writes it as
``results.json`` and ``results.csv`` with the resolved config, seed and environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from speechrep.analysis.experiments.inputs import check_layer_names, name_stores
from speechrep.analysis.experiments.results import ExperimentResult, read_results, write_results


def resolve_device(device: str | None) -> str:
    """``None``: ``cuda`` when a GPU is present, else ``cpu``; anything else as given."""
    if device is not None:
        return str(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_analysis(cfg: Any) -> Path:
    """Run the experiment of a composed ``analyze`` config; return the written ``results.json``."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from speechrep.utils.seeding import seed_everything

    if "analysis" not in cfg or cfg.analysis is None:
        raise ValueError("no analysis chosen: run with experiment=<name> (see configs/experiment/)")
    seed_everything(cfg.seed)
    config = OmegaConf.to_container(cfg, resolve=True)
    stores = name_stores(list(cfg.stores), None if cfg.store_names is None else list(cfg.store_names))
    runner = instantiate(cfg.analysis, _partial_=True, _convert_="all")
    layers = None if cfg.layers is None else list(cfg.layers)
    check_layer_names(stores, layers)
    result = runner(
        stores, layers=layers, seed=cfg.seed, device=resolve_device(cfg.device), progress=cfg.progress
    )
    return write_results(cfg.out_dir, cfg.task_name, result, config, cfg.seed)


__all__ = ["ExperimentResult", "read_results", "resolve_device", "run_analysis", "write_results"]
