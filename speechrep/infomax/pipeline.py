"""The InfoMax stages as plain functions of a composed config (the entry scripts call these).

- :func:`train_encoder`: CPC / GIM / SIM / V-GIM training with :class:`speechrep.train.Trainer`
  on random crops, validation on centred crops; the best (else last) encoder is exported to
  ``<out>/encoder`` (``config.json`` + ``model.safetensors``, loadable by
  :class:`~speechrep.infomax.encoder.InfoMaxEncoder` and ``upstream=infomax``).
- :func:`probe_task`: a linear probe (speaker / phone / syllable / vowel) of one module of a
  frozen encoder, on features cached on disk (:mod:`speechrep.infomax.feature_cache`);
  :func:`run_probe_from_config` runs it for a trained encoder and writes ``results.json`` and
  ``probe.safetensors``.
- :func:`train_decoder_from_config`: a decoder of one module on the frozen encoder; exports
  ``<out>/decoder.safetensors``.

Every run writes ``results.json`` with the resolved config and seed into its output folder.
Manifests come from the ``dataset`` config; the evaluation split is the same reader with
``split=<eval_split>`` (the CPC LibriSpeech-100 and synthetic syllable readers take ``split``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import save_file

from speechrep.data.manifest import Manifest
from speechrep.infomax.data import FixedCropDataset, RandomCropDataset
from speechrep.infomax.decoder import InfoMaxDecoder, LatentDecoderModel
from speechrep.infomax.decoder_losses import DecoderLoss, DecoderLossConfig
from speechrep.infomax.encoder import InfoMaxEncoder
from speechrep.infomax.feature_cache import FeatureSettings, cached_encode
from speechrep.infomax.features import LabelIndex, frame_labels, utterance_labels
from speechrep.infomax.model import GreedyInfoMax
from speechrep.infomax.probes import ProbeConfig, ProbeResult, run_probe, stack_frames, time_mean
from speechrep.train import Trainer, load_model_weights
from speechrep.utils.io import atomic_write_json
from speechrep.utils.seeding import seed_everything

#: Probe tasks: label source and pooling.
PROBE_TASKS = {"speaker": "utterance", "syllable": "utterance", "vowel": "utterance", "phone": "frame"}


def to_plain(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """A config node as plain python containers, interpolations resolved."""
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def dataset_manifests(
    dataset: DictConfig, eval_split: str | None, **overrides: Any
) -> tuple[Manifest, Manifest | None]:
    """The manifest of the ``dataset`` config (with ``overrides``) and its ``eval_split`` (or ``None``)."""
    train = instantiate(dataset, **overrides)
    evaluation = instantiate(dataset, **overrides, split=eval_split) if eval_split else None
    return train, evaluation


def _fit(cfg: DictConfig, model: torch.nn.Module, train_set: Any, val_set: Any, out_dir: Path) -> dict:
    trainer_config = instantiate(cfg.trainer, out_dir=str(out_dir / "train"), seed=cfg.seed)
    summary = Trainer(trainer_config, model, train_set, val_set, run_config=cfg).fit()
    load_model_weights(model, summary.get("best_checkpoint") or summary["last_checkpoint"])
    return summary


def _write_results(out_dir: Path, cfg: DictConfig, results: Mapping[str, Any]) -> dict[str, Any]:
    payload = {**results, "seed": int(cfg.seed), "config": to_plain(cfg)}
    atomic_write_json(out_dir / "results.json", payload)
    return payload


def _crop_datasets(cfg: DictConfig) -> tuple[RandomCropDataset, FixedCropDataset | None]:
    """Random training crops of ``cfg.dataset``, centred validation crops of ``cfg.data.eval_split``."""
    train_manifest, val_manifest = dataset_manifests(cfg.dataset, cfg.data.eval_split)
    crop = cfg.data.crop_samples
    train_set = RandomCropDataset(train_manifest, crop, cfg.data.crop_step, preload=cfg.data.preload)
    val_set = FixedCropDataset(val_manifest, crop, preload=cfg.data.preload) if val_manifest else None
    return train_set, val_set


def train_encoder(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Train the encoder of ``cfg.model`` and export it to ``<out_dir>/encoder``."""
    out_dir = Path(out_dir)
    seed_everything(cfg.seed)
    model = GreedyInfoMax(instantiate(cfg.model, _convert_="all"))  # first draw: the seed's initial weights
    train_set, val_set = _crop_datasets(cfg)
    summary = _fit(cfg, model, train_set, val_set, out_dir)
    encoder_dir = model.encoder.save_pretrained(out_dir / "encoder")
    return _write_results(out_dir, cfg, {"encoder": str(encoder_dir), "train": summary})


def _probe_rows(
    encoder: InfoMaxEncoder,
    manifest: Manifest,
    task: str,
    module: int,
    features: FeatureSettings,
    cache_dir: str | Path | None,
) -> tuple[torch.Tensor, list]:
    rows = cached_encode(encoder, manifest, [module], features, cache_dir)[module]
    if PROBE_TASKS[task] == "utterance":
        return time_mean(rows), utterance_labels(manifest, task)
    geometry = encoder.geometry(module)
    return torch.cat(rows), [frame_labels(u, geometry, len(f)) for u, f in zip(manifest, rows)]


def probe_task(
    encoder: InfoMaxEncoder,
    task: str,
    module: int,
    train_manifest: Manifest,
    test_manifest: Manifest,
    probe: ProbeConfig,
    features: FeatureSettings,
    cache_dir: str | Path | None = None,
) -> tuple[ProbeResult, dict[str, Any]]:
    """Probe module ``module`` of ``encoder`` for ``task``: train on one manifest, score on the other.

    Features come through the cache in ``cache_dir`` (:mod:`speechrep.infomax.feature_cache`).
    Returns the result and a JSON-able summary with the accuracies, the chance level
    (``1 / classes``) and the majority-class rate of the test rows.
    """
    if task not in PROBE_TASKS:
        raise ValueError(f"unknown probe task {task!r}; choose one of {sorted(PROBE_TASKS)}")
    train_x, train_labels = _probe_rows(encoder, train_manifest, task, module, features, cache_dir)
    test_x, test_labels = _probe_rows(encoder, test_manifest, task, module, features, cache_dir)
    index = LabelIndex()
    if PROBE_TASKS[task] == "utterance":
        index.fit(train_labels, test_labels)
        train_y, test_y = index.transform(train_labels), index.transform(test_labels)
    else:
        index.fit(*train_labels, *test_labels)
        train_x, train_y = stack_frames([train_x], [torch.cat([index.transform(y) for y in train_labels])])
        test_x, test_y = stack_frames([test_x], [torch.cat([index.transform(y) for y in test_labels])])
    num_classes = len(index.classes_)
    result = run_probe(train_x, train_y, test_x, test_y, num_classes, probe)
    counts = torch.bincount(test_y, minlength=num_classes)
    return result, {
        "task": task,
        "module": f"module.{module}",
        "train_accuracy": result.train_accuracy,
        "test_accuracy": result.test_accuracy,
        "chance": 1.0 / num_classes,
        "majority": float(counts.max() / counts.sum()),
        "num_classes": num_classes,
        "classes": index.classes_,
        "train_rows": len(train_x),
        "test_rows": len(test_x),
    }


def probe_settings(cfg: DictConfig) -> tuple[ProbeConfig, FeatureSettings]:
    """Head and feature settings of a probe config (keys ``probe``, ``deterministic``, ``crop_samples``)."""
    seed = int(cfg.seed)
    features = FeatureSettings(deterministic=cfg.deterministic, crop_samples=cfg.crop_samples, seed=seed)
    return ProbeConfig(**to_plain(cfg.probe), seed=seed), features


def run_probe_from_config(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Probe one module of ``cfg.encoder_dir`` for ``cfg.task``; see the module docstring."""
    out_dir = Path(out_dir)
    seed_everything(cfg.seed)
    encoder = InfoMaxEncoder.from_pretrained(cfg.encoder_dir)
    module = encoder.resolve_module(cfg.module)
    train_manifest, test_manifest = dataset_manifests(cfg.dataset, cfg.eval_split)
    probe, features = probe_settings(cfg)
    result, summary = probe_task(
        encoder, cfg.task, module, train_manifest, test_manifest, probe, features, cfg.feature_cache
    )
    save_file(
        {k: v.contiguous() for k, v in result.head.state_dict().items()}, str(out_dir / "probe.safetensors")
    )
    return _write_results(out_dir, cfg, summary)


def train_decoder_from_config(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Train a decoder of module ``cfg.module`` on the frozen encoder of ``cfg.encoder_dir``."""
    out_dir = Path(out_dir)
    seed_everything(cfg.seed)
    encoder = InfoMaxEncoder.from_pretrained(cfg.encoder_dir)
    module = encoder.resolve_module(cfg.module)
    decoder = InfoMaxDecoder(encoder, module, cfg.hidden_channels)
    loss = DecoderLoss(DecoderLossConfig(**to_plain(cfg.loss)))
    model = LatentDecoderModel(encoder, decoder, loss, sample_latents=cfg.sample_latents)
    train_set, val_set = _crop_datasets(cfg)
    summary = _fit(cfg, model, train_set, val_set, out_dir)
    path = out_dir / "decoder.safetensors"
    save_file({k: v.detach().contiguous().cpu() for k, v in decoder.state_dict().items()}, str(path))
    return _write_results(
        out_dir, cfg, {"decoder": str(path), "module": f"module.{module}", "train": summary}
    )
