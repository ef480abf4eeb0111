"""The InfoMax stages as plain functions of a composed config (the entry scripts call these).

- :func:`train_encoder`: CPC / GIM / SIM / V-GIM training with :class:`speechrep.train.Trainer`
  on random crops, validation on centred crops; the best (else last) encoder is exported to
  ``<out>/encoder`` (``config.json`` + ``model.safetensors``, loadable by
  :class:`~speechrep.infomax.encoder.InfoMaxEncoder` and ``upstream=infomax``).
- :func:`run_probe_from_config`: a linear probe (speaker / phone / syllable / vowel) on cached
  features of one module of a frozen encoder; writes ``results.json`` and ``probe.safetensors``.
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
from speechrep.infomax.features import LabelIndex, encode_manifest, frame_labels, utterance_labels
from speechrep.infomax.model import GreedyInfoMax
from speechrep.infomax.probes import ProbeConfig, run_probe, stack_frames, time_mean
from speechrep.train import Trainer, load_model_weights
from speechrep.utils.io import atomic_write_json
from speechrep.utils.seeding import seed_everything

#: Probe tasks: label source and pooling.
PROBE_TASKS = {"speaker": "utterance", "syllable": "utterance", "vowel": "utterance", "phone": "frame"}


def _resolved(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def _manifests(cfg: DictConfig, eval_split: str | None) -> tuple[Manifest, Manifest | None]:
    train = instantiate(cfg.dataset)
    evaluation = instantiate(cfg.dataset, split=eval_split) if eval_split else None
    return train, evaluation


def _fit(cfg: DictConfig, model: torch.nn.Module, train_set: Any, val_set: Any, out_dir: Path) -> dict:
    trainer_config = instantiate(cfg.trainer, out_dir=str(out_dir / "train"), seed=cfg.seed)
    summary = Trainer(trainer_config, model, train_set, val_set).fit()
    load_model_weights(model, summary.get("best_checkpoint") or summary["last_checkpoint"])
    return summary


def _write_results(out_dir: Path, cfg: DictConfig, results: Mapping[str, Any]) -> dict[str, Any]:
    payload = {**results, "seed": int(cfg.seed), "config": _resolved(cfg)}
    atomic_write_json(out_dir / "results.json", payload)
    return payload


def train_encoder(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Train the encoder of ``cfg.model`` and export it to ``<out_dir>/encoder``."""
    out_dir = Path(out_dir)
    seed_everything(cfg.seed)
    config = instantiate(cfg.model, _convert_="all")
    train_manifest, val_manifest = _manifests(cfg, cfg.data.eval_split)
    crop = cfg.data.crop_samples
    train_set = RandomCropDataset(train_manifest, crop, cfg.data.crop_step, preload=cfg.data.preload)
    val_set = FixedCropDataset(val_manifest, crop, preload=cfg.data.preload) if val_manifest else None
    model = GreedyInfoMax(config)
    summary = _fit(cfg, model, train_set, val_set, out_dir)
    encoder_dir = model.encoder.save_pretrained(out_dir / "encoder")
    return _write_results(out_dir, cfg, {"encoder": str(encoder_dir), "train": summary})


def _probe_rows(
    encoder: InfoMaxEncoder, manifest: Manifest, task: str, module: int, cfg: DictConfig
) -> tuple[torch.Tensor, list]:
    features = encode_manifest(
        encoder, manifest, [module], deterministic=cfg.deterministic, crop_samples=cfg.crop_samples
    )[module]
    if PROBE_TASKS[task] == "utterance":
        return time_mean(features), utterance_labels(manifest, task)
    geometry = encoder.geometry(module)
    return torch.cat(features), [frame_labels(u, geometry, len(f)) for u, f in zip(manifest, features)]


def run_probe_from_config(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Probe one module of ``cfg.encoder_dir`` for ``cfg.task``; see the module docstring."""
    if cfg.task not in PROBE_TASKS:
        raise ValueError(f"unknown probe task {cfg.task!r}; choose one of {sorted(PROBE_TASKS)}")
    out_dir = Path(out_dir)
    seed_everything(cfg.seed)
    encoder = InfoMaxEncoder.from_pretrained(cfg.encoder_dir)
    module = cfg.module % encoder.config.num_modules
    train_manifest, test_manifest = _manifests(cfg, cfg.eval_split)
    train_x, train_labels = _probe_rows(encoder, train_manifest, cfg.task, module, cfg)
    test_x, test_labels = _probe_rows(encoder, test_manifest, cfg.task, module, cfg)
    index = LabelIndex()
    if PROBE_TASKS[cfg.task] == "utterance":
        index.fit(train_labels, test_labels)
        train_y, test_y = index.transform(train_labels), index.transform(test_labels)
    else:
        index.fit(*train_labels, *test_labels)
        train_x, train_y = stack_frames([train_x], [torch.cat([index.transform(y) for y in train_labels])])
        test_x, test_y = stack_frames([test_x], [torch.cat([index.transform(y) for y in test_labels])])
    probe_config = ProbeConfig(**_resolved(cfg.probe), seed=int(cfg.seed))
    result = run_probe(train_x, train_y, test_x, test_y, len(index.classes_), probe_config)
    save_file(
        {k: v.contiguous() for k, v in result.head.state_dict().items()}, str(out_dir / "probe.safetensors")
    )
    return _write_results(
        out_dir,
        cfg,
        {
            "task": cfg.task,
            "module": f"module.{module}",
            "train_accuracy": result.train_accuracy,
            "test_accuracy": result.test_accuracy,
            "num_classes": result.num_classes,
            "classes": index.classes_,
            "train_rows": len(train_x),
            "test_rows": len(test_x),
        },
    )


def train_decoder_from_config(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Train a decoder of module ``cfg.module`` on the frozen encoder of ``cfg.encoder_dir``."""
    out_dir = Path(out_dir)
    seed_everything(cfg.seed)
    encoder = InfoMaxEncoder.from_pretrained(cfg.encoder_dir)
    module = cfg.module % encoder.config.num_modules
    decoder = InfoMaxDecoder(encoder, module, cfg.hidden_channels)
    loss = DecoderLoss(DecoderLossConfig(**_resolved(cfg.loss)))
    model = LatentDecoderModel(encoder, decoder, loss, sample_latents=cfg.sample_latents)
    train_manifest, val_manifest = _manifests(cfg, cfg.data.eval_split)
    crop = cfg.data.crop_samples
    train_set = RandomCropDataset(train_manifest, crop, cfg.data.crop_step, preload=cfg.data.preload)
    val_set = FixedCropDataset(val_manifest, crop, preload=cfg.data.preload) if val_manifest else None
    summary = _fit(cfg, model, train_set, val_set, out_dir)
    path = out_dir / "decoder.safetensors"
    save_file({k: v.detach().contiguous().cpu() for k, v in decoder.state_dict().items()}, str(path))
    return _write_results(
        out_dir, cfg, {"decoder": str(path), "module": f"module.{module}", "train": summary}
    )
