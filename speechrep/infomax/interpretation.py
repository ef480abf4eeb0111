"""The interpretability stage: :mod:`speechrep.infomax.interpret`'s analyses of one trained encoder.

:func:`interpret_from_config` encodes a seeded subset of one split of the ``dataset`` config
(features through :mod:`speechrep.infomax.feature_cache`) and computes, per chosen module:

- **t-SNE** of the time-mean latents, with each clip's ``label`` (e.g. its vowel);
- **histograms** of the first ``histograms.dims`` dimensions over all frames against N(0, 1), with
  each dimension's mean, standard deviation and total-variation distance to N(0, 1) on the
  histogram's range, ``½ Σ_b |p̂_b - p_b|`` (``p_b`` the N(0, 1) mass of bin ``b``);
- **total correlation** of frames: Gaussian over all dimensions, and Gaussian and k-NN on random
  subsets of ``total_correlation.dims`` dimensions (a k-NN estimate needs few dimensions);

and, when given:

- **weight densities** of bias-free probe heads (``probes``: ``scripts/probe.py`` run folders),
  rows scaled by their max |w|, with the density at 0 and the share of weights with |w| < 0.1;
- **interpolation contribution scores** ``r_K`` for ``K = 2, 4, 8, …, d`` with the decoder of a
  ``scripts/train_decoder.py`` run folder (``decoder_dir``), on the centred crops of
  ``interpolation.num_latents`` clips.

It writes ``results.json`` (every number above, the arrays the plots need, config and seed);
:func:`speechrep.viz.infomax.plot_interpretation` draws the PNGs from it. Non-finite numbers
(a singular covariance gives an infinite Gaussian TC) are written as ``null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from safetensors.torch import load_file
from scipy.stats import norm

from speechrep.data.manifest import Manifest
from speechrep.infomax.data import FixedCropDataset
from speechrep.infomax.decoder import InfoMaxDecoder
from speechrep.infomax.encoder import InfoMaxEncoder
from speechrep.infomax.feature_cache import FeatureSettings, cached_encode
from speechrep.infomax.features import utterance_labels
from speechrep.infomax.interpret import (
    dimension_histograms,
    interpolation_scores,
    scaled_weights,
    total_correlation,
    tsne_embedding,
    weight_density,
)
from speechrep.infomax.pipeline import to_plain
from speechrep.utils.io import atomic_write_json
from speechrep.utils.seeding import seed_everything


def interpret_from_config(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Run the analyses of the module docstring on ``cfg.encoder_dir``; write ``results.json``."""
    out_dir = Path(out_dir)
    seed = int(cfg.seed)
    seed_everything(seed)
    encoder = InfoMaxEncoder.from_pretrained(cfg.encoder_dir)
    chosen = cfg.modules if cfg.modules is not None else range(encoder.config.num_modules)
    modules = sorted({encoder.resolve_module(m) for m in chosen})
    manifest = _subset(instantiate(cfg.dataset, split=cfg.split), cfg.max_utterances, seed)
    settings = FeatureSettings(deterministic=cfg.deterministic, seed=seed)
    features = cached_encode(encoder, manifest, modules, settings, cfg.feature_cache)
    labels = utterance_labels(manifest, cfg.label)
    rng = np.random.default_rng(seed)
    per_module = {}
    for m in modules:
        frames = torch.cat(features[m]).numpy()
        means = np.stack([f.mean(dim=0).numpy() for f in features[m]])
        per_module[f"module.{m}"] = {
            "tsne": _tsne(means, labels, seed),
            "histograms": _histograms(frames, cfg.histograms),
            "total_correlation": _total_correlation(frames, cfg.total_correlation, rng),
        }
    results = {
        "encoder_dir": str(cfg.encoder_dir),
        "num_utterances": len(manifest),
        "label": cfg.label,
        "deterministic": bool(cfg.deterministic),
        "modules": per_module,
        "weight_densities": [_weight_density(Path(p)) for p in cfg.probes],
        "interpolation": _interpolation(encoder, manifest, cfg) if cfg.decoder_dir is not None else None,
        "seed": seed,
        "config": to_plain(cfg),
    }
    results = _json_safe(results)
    atomic_write_json(out_dir / "results.json", results)
    return results


def _subset(manifest: Manifest, limit: int | None, seed: int) -> Manifest:
    if limit is None or len(manifest) <= limit:
        return manifest
    chosen = np.sort(np.random.default_rng(seed).choice(len(manifest), size=limit, replace=False))
    return Manifest([manifest[int(i)] for i in chosen], name=f"{manifest.name}-{limit}")


def _tsne(means: np.ndarray, labels: list[str], seed: int) -> dict[str, Any]:
    embedding = tsne_embedding(means, seed=seed)
    return {"labels": labels, "x": embedding[:, 0].tolist(), "y": embedding[:, 1].tolist()}


def _histograms(frames: np.ndarray, cfg: DictConfig) -> dict[str, Any]:
    dims = list(range(min(int(cfg.dims), frames.shape[1])))
    edges, densities, normal = dimension_histograms(frames, dims, bins=int(cfg.bins), limit=float(cfg.limit))
    widths = np.diff(edges)
    normal_mass = np.diff(norm.cdf(edges))
    tv = 0.5 * np.abs(densities * widths - normal_mass).sum(axis=1)
    return {
        "dims": dims,
        "edges": edges.tolist(),
        "densities": densities.tolist(),
        "normal": normal.tolist(),
        "mean": frames[:, dims].mean(axis=0).tolist(),
        "std": frames[:, dims].std(axis=0).tolist(),
        "tv_distance": tv.tolist(),
    }


def _total_correlation(frames: np.ndarray, cfg: DictConfig, rng: np.random.Generator) -> dict[str, Any]:
    rows = frames[rng.choice(len(frames), size=min(int(cfg.frames), len(frames)), replace=False)]
    width = min(int(cfg.dims), rows.shape[1])
    subsets = []
    for _ in range(int(cfg.repeats)):
        dims = np.sort(rng.choice(rows.shape[1], size=width, replace=False))
        subset = rows[:, dims]
        subsets.append(
            {
                "dims": dims.tolist(),
                "gaussian": total_correlation(subset, "gaussian"),
                "knn": total_correlation(subset, "knn", k=int(cfg.k)),
            }
        )
    return {
        "frames": len(rows),
        "gaussian_all_dims": total_correlation(rows, "gaussian"),
        "subset_dims": width,
        "subsets": subsets,
        "gaussian_subset_mean": float(np.mean([s["gaussian"] for s in subsets])),
        "knn_subset_mean": float(np.mean([s["knn"] for s in subsets])),
    }


def _weight_density(probe_dir: Path) -> dict[str, Any]:
    """Density of the scaled weights of the probe head in ``probe_dir`` (a ``scripts/probe.py`` run)."""
    record = json.loads((probe_dir / "results.json").read_text(encoding="utf-8"))
    state = load_file(str(probe_dir / "probe.safetensors"))
    weight = state["weight"].numpy()
    x, density = weight_density(weight)
    scaled = np.abs(scaled_weights(weight))
    return {
        "probe_dir": str(probe_dir),
        "task": record["task"],
        "module": record["module"],
        "bias": "bias" in state,
        "classes": record["classes"],
        "x": x.tolist(),
        "density": density.tolist(),
        "density_at_zero": float(density[len(density) // 2]),
        "share_below_0.1": float((scaled < 0.1).mean()),
    }


def _interpolation(encoder: InfoMaxEncoder, manifest: Manifest, cfg: DictConfig) -> dict[str, Any]:
    """``r_K`` with the decoder of ``cfg.decoder_dir`` (a ``scripts/train_decoder.py`` run)."""
    decoder_dir, seed, options = Path(cfg.decoder_dir), int(cfg.seed), cfg.interpolation
    run = json.loads((decoder_dir / "results.json").read_text(encoding="utf-8"))
    module = int(run["module"].split(".")[1])
    decoder = InfoMaxDecoder(encoder, module, int(run["config"]["hidden_channels"]))
    decoder.load_state_dict(load_file(str(decoder_dir / "decoder.safetensors")))
    decoder.eval()
    crop = int(options.crop_samples or run["config"]["data"]["crop_samples"])
    clips = FixedCropDataset(manifest, crop)
    waves = torch.stack([clips[i]["wave"] for i in range(min(int(options.num_latents), len(clips)))])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        latents = encoder.encode(waves, module, deterministic=cfg.deterministic)
    ks = list(options.ks) if options.ks is not None else _powers_of_two(latents.shape[-1])
    relative, absolute = interpolation_scores(
        lambda z: decoder(z, crop), latents, ks, max_pairs=options.max_pairs, seed=seed
    )
    return {
        "module": f"module.{module}",
        "decoder_dir": str(decoder_dir),
        "crop_samples": crop,
        "num_latents": len(latents),
        "ks": ks,
        "relative": relative.tolist(),
        "absolute": absolute.tolist(),
    }


def _powers_of_two(dim: int) -> list[int]:
    """``2, 4, 8, …`` below ``dim``, then ``dim`` itself."""
    return [*(2**i for i in range(1, math.ceil(math.log2(max(dim, 2))))), dim]


def _json_safe(value: Any) -> Any:
    """Non-finite floats become ``None`` (JSON has no infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value
