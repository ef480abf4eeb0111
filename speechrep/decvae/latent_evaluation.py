"""Evaluate latent codes with the metric suite and the classification read-out: the ``evaluate_latents`` run.

What is evaluated (``cfg``, a resolved ``evaluate_latents`` config):

- saved codes: ``codes_path`` names an ``.npz`` with ``codes`` (N, D) and integer ``factors`` (N, K),
  optionally ``groups`` (N,) (e.g. the utterance of each frame: grouped train/test splits) and
  ``factor_names`` (K,). Any encoder's latents can be evaluated this way;
- baselines: otherwise the ``sampler`` (an interventional sampler, e.g.
  :class:`~speechrep.data.simvowels.SimVowelsSampler` or
  :class:`~speechrep.data.synth.sampler.SyntheticSpeechSampler`) draws ``num_fit`` observations to fit
  the baselines of :mod:`speechrep.decvae.baselines` on (with ``fit_sampler_overrides`` applied, e.g.
  ``{split: train}`` to fit on the training speakers) and ``num_eval`` observations with their factors
  to evaluate on. The fit and evaluation draws use the generators ``default_rng([seed, 0])`` and
  ``default_rng([seed, 1])``.

For each representation: the fixed-data metrics (:func:`~speechrep.metrics.evaluate.evaluate_representation`
with ``metrics``, ``metric_options``, ``chance``), for baselines also the interventional ones named in
``interventional_metrics`` (the β-VAE and FactorVAE scores through the fitted pipeline and the sampler),
and per factor the cross-validated accuracy of each classifier in ``classification.classifiers`` and,
with ``classification.kmeans``, the k-means clustering scores.

Written to ``out_dir``: ``results.json`` (the config, the seed, package versions, every table) and
``results.csv`` (one row per score), both atomically.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from speechrep.decvae.baselines import fit_baselines
from speechrep.metrics.evaluate import MetricTable, evaluate_encoder, evaluate_representation
from speechrep.metrics.latent_classification import classify_latents, kmeans_clustering
from speechrep.utils.io import atomic_write_json, atomic_write_text
from speechrep.utils.provenance import environment_versions
from speechrep.utils.seeding import seed_everything

log = logging.getLogger(__name__)

_CSV_COLUMNS = ("representation", "kind", "metric", "score", "value", "chance", "seed")


def load_codes(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a codes file: ``codes``, ``factors`` and the optional ``groups`` and ``factor_names``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"codes file {path} does not exist")
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    missing = {"codes", "factors"} - set(arrays)
    if missing:
        raise ValueError(
            f"{path}: missing arrays {sorted(missing)}; it must hold codes (N, D) and factors (N, K)"
        )
    factors = arrays["factors"]
    arrays["factors"] = factors[:, None] if factors.ndim == 1 else factors
    if not np.issubdtype(arrays["factors"].dtype, np.integer):
        raise ValueError(f"{path}: factors must be integer class labels, got {arrays['factors'].dtype}")
    num_factors = arrays["factors"].shape[1]
    if "factor_names" in arrays and len(arrays["factor_names"]) != num_factors:
        raise ValueError(
            f"{path}: {len(arrays['factor_names'])} factor_names for {num_factors} factor columns"
        )
    return arrays


def evaluate_latents(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the evaluation described by ``cfg`` (module docstring); return what ``results.json`` holds."""
    seed = int(cfg["seed"])
    seed_everything(seed)
    representations, factor_names, sampler = _representations(cfg, seed)
    results: dict[str, Any] = {}
    rows: list[tuple] = []
    for name, (codes, factors, groups, encoder) in representations.items():
        log.info("evaluating %s: %d codes of %d dimensions", name, *codes.shape)
        table = evaluate_representation(
            codes,
            factors,
            cfg.get("metrics"),
            seed,
            options=cfg.get("metric_options"),
            groups=groups,
            chance=bool(cfg.get("chance", False)),
        )
        entry: dict[str, Any] = {"metrics": table.as_dict()}
        rows += _table_rows(name, "metric", table)
        interventional = list(cfg.get("interventional_metrics") or [])
        if interventional and encoder is not None:
            inter = evaluate_encoder(
                encoder, sampler, interventional, seed, options=cfg.get("interventional_options")
            )
            entry["interventional"] = inter.as_dict()
            rows += _table_rows(name, "interventional", inter)
        entry["classification"] = _classification(codes, factors, groups, factor_names, cfg, seed)
        for factor, scores in entry["classification"].items():
            for classifier, score in scores.items():
                kind = "clustering" if classifier == "kmeans" else "classification"
                value = score["accuracy"] if kind == "clustering" else score["mean"]
                rows.append((name, kind, factor, classifier, value, score.get("chance"), seed))
        results[name] = entry
    document = {
        "config": dict(cfg),
        "seed": seed,
        "versions": environment_versions(),
        "factor_names": factor_names,
        "representations": results,
    }
    out_dir = Path(cfg["out_dir"])
    atomic_write_json(out_dir / "results.json", document)
    atomic_write_text(out_dir / "results.csv", _csv_text(rows))
    return document


def _representations(cfg: Mapping[str, Any], seed: int) -> tuple[dict[str, tuple], list[str], Any]:
    """``({name: (codes, factors, groups, encoder or None)}, factor names, sampler or None)``."""
    if cfg.get("codes_path"):
        arrays = load_codes(cfg["codes_path"])
        factors = arrays["factors"]
        names = [str(n) for n in arrays.get("factor_names", [f"factor{k}" for k in range(factors.shape[1])])]
        return (
            {Path(cfg["codes_path"]).stem: (arrays["codes"], factors, arrays.get("groups"), None)},
            names,
            None,
        )
    from hydra.utils import instantiate

    sampler = instantiate(cfg["sampler"])
    fit_sampler = instantiate(cfg["sampler"], **(cfg.get("fit_sampler_overrides") or {}))
    fit_rng, eval_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    fit_observations = fit_sampler.sample_observations_from_factors(
        fit_sampler.sample_factors(int(cfg["num_fit"]), fit_rng), fit_rng
    )
    factors = sampler.sample_factors(int(cfg["num_eval"]), eval_rng)
    observations = sampler.sample_observations_from_factors(factors, eval_rng)
    fitted = fit_baselines(
        fit_observations,
        observations,
        baselines=cfg["baselines"],
        features=cfg["features"],
        n_components=cfg.get("n_components"),
        seed=seed,
        baseline_params=cfg.get("baseline_params"),
    )
    names = list(getattr(sampler, "factor_names", [f"factor{k}" for k in range(factors.shape[1])]))
    representations = {
        name: (codes, factors, None, pipeline.transform) for name, (pipeline, codes) in fitted.items()
    }
    return representations, names, sampler


def _classification(
    codes: np.ndarray,
    factors: np.ndarray,
    groups: np.ndarray | None,
    factor_names: list[str],
    cfg: Mapping[str, Any],
    seed: int,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per factor: cross-validated accuracy per classifier, and the k-means scores under ``"kmeans"``."""
    settings = dict(cfg.get("classification") or {})
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for k, factor in enumerate(factor_names):
        labels = factors[:, k]
        scores = classify_latents(
            codes,
            labels,
            groups,
            classifiers=settings.get("classifiers", ["logistic"]),
            n_splits=int(settings.get("n_splits", 5)),
            seed=seed,
        )
        out[factor] = {
            name: {key: value for key, value in asdict(score).items() if key != "fold_scores"}
            for name, score in scores.items()
        }
        if settings.get("kmeans", True):
            clustering = asdict(kmeans_clustering(codes, labels, seed=seed))
            clustering["mapping"] = {str(c): label for c, label in clustering["mapping"].items()}
            out[factor]["kmeans"] = clustering
    return out


def _table_rows(name: str, kind: str, table: MetricTable) -> list[tuple]:
    return [(name, kind, row.metric, row.score, row.value, row.chance, table.seed) for row in table.rows]


def _csv_text(rows: list[tuple]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for name, kind, metric, score, value, chance, seed in rows:
        writer.writerow(
            [
                name,
                kind,
                metric,
                score,
                repr(float(value)),
                "" if chance is None else repr(float(chance)),
                seed,
            ]
        )
    return buffer.getvalue()
