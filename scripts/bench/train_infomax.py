"""Benchmark: Smooth InfoMax training speed, and probes on cached vs re-encoded features.

1. **Training**: optimiser steps per second of :class:`speechrep.infomax.GreedyInfoMax` with the
   SIM preset at full size (four modules, 512 channels, BatchNorm: the LibriSpeech setting), on
   ``--batch`` crops of ``--crop`` samples, per device (forward, backward, Adam step; warm-up steps
   untimed). The audio is random: the speed does not depend on the content.
2. **Probes**: a vowel probe (time mean of the last module, ``--epochs`` epochs) on the syllable
   clips of a synthetic corpus, the same frozen random-init SIM encoder in both arms:

   - *re-encoded*: every epoch encodes every training clip again, as SIM's code does;
   - *cached*: the clips are encoded once through :mod:`speechrep.infomax.feature_cache` (cold:
     encode and write; warm: a later run that reads the entry), then the head is trained.

   Both encode the test clips once and train the same head with the same settings, so the ratio is
   what caching saves.

    python scripts/bench/train_infomax.py                 # CPU, and CUDA when available
    python scripts/bench/train_infomax.py --device cpu --steps 20
    python scripts/bench/train_infomax.py --quick         # a smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speechrep.data.manifest import Manifest
from speechrep.data.synth.syllables import WORDS, read_synthetic_syllables, synthesize_syllables
from speechrep.infomax import GreedyInfoMax, InfoMaxEncoder, infomax_config
from speechrep.infomax.feature_cache import FeatureSettings, cached_encode
from speechrep.infomax.features import LabelIndex, encode_manifest, utterance_labels
from speechrep.infomax.probes import ProbeConfig, probe_accuracy, time_mean, train_probe
from speechrep.utils.provenance import environment_versions


def training_steps_per_second(device: str, batch: int, crop: int, steps: int, warmup: int = 2) -> float:
    """Optimiser steps per second of full-size SIM on ``device``."""
    torch.manual_seed(0)
    model = GreedyInfoMax(infomax_config("sim")).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    waves = (0.1 * torch.randn(batch, crop)).to(device)

    def step() -> None:
        optimizer.zero_grad()
        model.training_step(waves)["loss"].backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps / (time.perf_counter() - start)


def reencoded_probe(
    encode: Callable[[Manifest], Tensor], train: Manifest, y: Tensor, classes: int, config: ProbeConfig
) -> nn.Linear:
    """SIM's way: one head trained for ``config.epochs`` epochs, the clips re-encoded before each.

    The same initialisation, row order and optimiser as :func:`train_probe`, so on deterministic
    features both arms train the same head.
    """
    generator = torch.Generator().manual_seed(config.seed)
    head, optimizer = None, None
    for _ in range(config.epochs):
        x = encode(train)
        if head is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                head = nn.Linear(x.shape[1], classes, bias=config.bias)
            optimizer = torch.optim.Adam(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        for batch in torch.randperm(len(x), generator=generator).split(config.batch_size):
            optimizer.zero_grad()
            F.cross_entropy(head(x[batch]), y[batch]).backward()
            optimizer.step()
    return head.eval()


def probe_seconds(
    encode: Callable[[Manifest], Tensor], reencode: bool, train: Manifest, test: Manifest, epochs: int
) -> tuple[float, float]:
    """Seconds and test accuracy of a vowel probe on the features ``encode`` gives."""
    index = LabelIndex().fit(utterance_labels(train, "vowel"), utterance_labels(test, "vowel"))
    train_y, test_y = (index.transform(utterance_labels(m, "vowel")) for m in (train, test))
    classes, config = len(index.classes_), ProbeConfig(epochs=epochs)
    start = time.perf_counter()
    if reencode:
        head = reencoded_probe(encode, train, train_y, classes, config)
    else:
        head = train_probe(encode(train), train_y, classes, config)
    accuracy = probe_accuracy(head, encode(test), test_y)
    return time.perf_counter() - start, accuracy


def probe_figures(device: str, words: int, voices: int, epochs: int, root: Path) -> dict[str, Any]:
    """Re-encoded vs cached (cold, warm) probe times on a synthetic syllable corpus."""
    voice_names = ("it+m1", "it+f2", "it+m3", "it+f4")[:voices]
    synthesize_syllables(root / "corpus", voices=voice_names, words=WORDS[::7][:words])
    train, test = (read_synthetic_syllables(root / "corpus", "syllable", s) for s in ("train", "test"))
    torch.manual_seed(0)
    encoder = InfoMaxEncoder(infomax_config("sim", batch_norm=False)).to(device).eval()
    last = encoder.config.num_modules - 1

    def reencode(manifest: Manifest) -> Tensor:
        return time_mean(encode_manifest(encoder, manifest, [last])[last])

    def cached(manifest: Manifest) -> Tensor:
        return time_mean(cached_encode(encoder, manifest, [last], FeatureSettings(), root / "cache")[last])

    reencoded, accuracy_reencoded = probe_seconds(reencode, True, train, test, epochs)
    cold, accuracy_cached = probe_seconds(cached, False, train, test, epochs)
    warm, _ = probe_seconds(cached, False, train, test, epochs)
    return {
        "train_clips": len(train),
        "test_clips": len(test),
        "epochs": epochs,
        "reencoded_s": round(reencoded, 2),
        "cached_cold_s": round(cold, 2),
        "cached_warm_s": round(warm, 2),
        "reencoded_over_cold": round(reencoded / cold, 2),
        "reencoded_over_warm": round(reencoded / warm, 2),
        "test_accuracy_reencoded": round(accuracy_reencoded, 3),
        "test_accuracy_cached": round(accuracy_cached, 3),
    }


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    parser.add_argument("--device", nargs="+", default=devices, help="devices to time training on")
    parser.add_argument("--batch", type=int, default=8, help="training batch (SIM's LibriSpeech README: 8)")
    parser.add_argument("--crop", type=int, default=20480, help="training crop in samples")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per device")
    parser.add_argument("--words", type=int, default=60, help="CVCVCV words of the probe corpus")
    parser.add_argument("--voices", type=int, default=2, help="voices of the probe corpus (1-4)")
    parser.add_argument("--epochs", type=int, default=10, help="probe epochs")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.crop, args.steps, args.words, args.voices, args.epochs = 2, 10240, 2, 12, 1, 3

    training = {
        device: round(training_steps_per_second(device, args.batch, args.crop, args.steps), 3)
        for device in args.device
    }
    with tempfile.TemporaryDirectory() as tmp:
        probes = probe_figures(args.device[0], args.words, args.voices, args.epochs, Path(tmp))
    figures = {
        "training_steps_per_s": training,
        "training": {"batch": args.batch, "crop": args.crop, "steps": args.steps, "model": "sim, full size"},
        "probe_device": args.device[0],
        "probes": probes,
        "torch_threads": torch.get_num_threads(),
        "versions": environment_versions(),
    }
    print(f"SIM training (batch {args.batch} x {args.crop} samples), steps/s:")
    for device, rate in training.items():
        print(f"  {device:8s}{rate:10.3f}")
    if len(training) > 1:
        rates = list(training.values())
        print(f"  {args.device[1]} / {args.device[0]} = {rates[1] / rates[0]:.1f}")
    print(
        f"vowel probe, {probes['epochs']} epochs, {probes['train_clips']} train / {probes['test_clips']} "
        f"test clips ({args.device[0]}):"
    )
    print(f"  {'re-encoded every epoch':28s}{probes['reencoded_s']:8.2f} s")
    print(f"  {'cached (cold: encode once)':28s}{probes['cached_cold_s']:8.2f} s")
    print(f"  {'cached (warm: read)':28s}{probes['cached_warm_s']:8.2f} s")
    print(
        f"  re-encoded / cached = {probes['reencoded_over_cold']:.1f} (cold), "
        f"{probes['reencoded_over_warm']:.1f} (warm)"
    )
    print(
        f"  test accuracy: re-encoded {probes['test_accuracy_reencoded']:.3f}, "
        f"cached {probes['test_accuracy_cached']:.3f} (the same head on the same features)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
