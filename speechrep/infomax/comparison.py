"""Does training help? A trained InfoMax encoder against a random-init encoder of the same shape.

A random conv stack already separates vowels and syllables to a degree (its time-mean features
are a crude spectrum), so a probe accuracy of a trained encoder means little on its own. This
stage probes both encoders with the same probe settings, on the same clips, and writes the two
accuracies side by side with the chance level.

The random-init encoder is built from the trained encoder's config with the run's seed
(:func:`random_init_encoder`); :func:`speechrep.infomax.pipeline.train_encoder` draws its initial
weights in the same way first thing, so with ``encoder_dir: null`` (train here) the baseline is
exactly the starting point of the training.

Outputs in the run folder: ``comparison.json`` (per task and module: both encoders' train and
test accuracies, the chance level ``1 / classes`` and the majority-class rate; per module whether
the trained encoder wins every task; seed, resolved config, training summary) and
``comparison.csv`` (one row per task, module and encoder); with ``encoder_dir: null`` also the
training run in ``train/``.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from speechrep.infomax.config import InfoMaxConfig
from speechrep.infomax.encoder import InfoMaxEncoder
from speechrep.infomax.feature_cache import cached_encode
from speechrep.infomax.pipeline import dataset_manifests, probe_settings, probe_task, to_plain, train_encoder
from speechrep.utils.io import atomic_write_json, atomic_write_text
from speechrep.utils.seeding import seed_everything

ENCODERS = ("trained", "random_init")
CSV_FIELDS = ("task", "module", "encoder", "test_accuracy", "train_accuracy", "chance", "majority", "seed")


def random_init_encoder(config: InfoMaxConfig, seed: int) -> InfoMaxEncoder:
    """An untrained encoder of ``config`` with the initial weights that ``seed`` gives (eval mode)."""
    seed_everything(seed)
    return InfoMaxEncoder(config).eval()


def compare_with_random_init(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Probe a trained encoder and its random-init twin; see the module docstring.

    ``cfg.encoder_dir`` names a trained encoder; ``None`` trains one first with ``cfg.model``,
    ``cfg.data`` and ``cfg.trainer`` (as ``scripts/train_infomax.py`` would) into ``<out_dir>/train``.
    Every task of ``cfg.tasks`` is probed on every module of ``cfg.modules`` (``None``: all). The
    probes read ``cfg.dataset`` with the overrides ``cfg.probe_dataset`` (its train split, then
    ``cfg.eval_split``).
    """
    out_dir = Path(out_dir)
    training = None
    encoder_dir = cfg.encoder_dir
    if encoder_dir is None:
        training = train_encoder(cfg, out_dir / "train")
        encoder_dir = training["encoder"]
    encoders = {"trained": InfoMaxEncoder.from_pretrained(encoder_dir)}
    encoders["random_init"] = random_init_encoder(encoders["trained"].config, int(cfg.seed))
    chosen = cfg.modules if cfg.modules is not None else range(encoders["trained"].config.num_modules)
    modules = sorted({encoders["trained"].resolve_module(m) for m in chosen})
    manifests = dataset_manifests(cfg.dataset, cfg.eval_split, **to_plain(cfg.probe_dataset))
    probe, features = probe_settings(cfg)
    if cfg.feature_cache is not None:  # every module of a manifest in one encoding pass
        for encoder, manifest in itertools.product(encoders.values(), manifests):
            cached_encode(encoder, manifest, modules, features, cfg.feature_cache)
    tasks: dict[str, dict[str, Any]] = {}
    for task, module in itertools.product(cfg.tasks, modules):
        scores: dict[str, Any] = {}
        for name in ENCODERS:
            _, summary = probe_task(
                encoders[name], task, module, *manifests, probe, features, cfg.feature_cache
            )
            scores[name] = {k: summary[k] for k in ("test_accuracy", "train_accuracy")}
            scores.update({k: summary[k] for k in ("chance", "majority", "num_classes", "test_rows")})
        trained, random = (scores[name]["test_accuracy"] for name in ENCODERS)
        tasks.setdefault(task, {})[f"module.{module}"] = {**scores, "trained_minus_random": trained - random}
    names = [f"module.{m}" for m in modules]
    payload = {
        "modules": names,
        "encoder_dir": str(encoder_dir),
        "tasks": tasks,
        "trained_beats_random": {
            name: all(tasks[task][name]["trained_minus_random"] > 0 for task in tasks) for name in names
        },
        "train": training["train"] if training else None,
        "seed": int(cfg.seed),
        "config": to_plain(cfg),
    }
    atomic_write_json(out_dir / "comparison.json", payload)
    atomic_write_text(out_dir / "comparison.csv", _csv(payload))
    return payload


def _csv(payload: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for task, per_module in payload["tasks"].items():
        for module, scores in per_module.items():
            for name in ENCODERS:
                writer.writerow(
                    {
                        "task": task,
                        "module": module,
                        "encoder": name,
                        **scores[name],
                        "chance": scores["chance"],
                        "majority": scores["majority"],
                        "seed": payload["seed"],
                    }
                )
    return buffer.getvalue()
