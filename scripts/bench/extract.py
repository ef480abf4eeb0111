"""Benchmark: extraction pipeline throughput next to a bare model forward pass on the same audio.

The pipeline is the whole of :func:`speechrep.store.extract_features`: reading and resampling audio,
named-layer capture, float16 conversion, sharded atomic writes and the final merge. The bare forward
is ``model(wave, output_hidden_states=True)`` on waveforms already in memory, one utterance at a
time, which is the least any extraction can cost. Both use the same transformer layers, so the
ratio says what the pipeline's bookkeeping costs. Prints times real time (xRT) and the ratio.

    python scripts/bench/extract.py                       # wav2vec2-base geometry, random init, CPU
    python scripts/bench/extract.py --minutes 5 --device cuda
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from speechrep.data import Manifest, load_audio
from speechrep.data.synth.corpus import synthesize_corpus
from speechrep.store import ExtractionSettings, extract_features
from speechrep.upstream import load_upstream
from speechrep.utils.provenance import environment_versions


def bare_forward_seconds(model: torch.nn.Module, waves: list[np.ndarray], device: str) -> float:
    """Wall time of the plain HF forward over every utterance (inputs already on the device)."""
    inputs = [torch.from_numpy(w)[None].to(device) for w in waves]
    with torch.inference_mode():
        model(inputs[0], output_hidden_states=True)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for x in inputs:
            model(x, output_hidden_states=True)
        _sync(device)
    return time.perf_counter() - start


def pipeline_seconds(manifest: Manifest, upstream, layers: list[str], root: Path) -> float:
    settings = ExtractionSettings(layers=layers, span="frame", shard_seconds=120.0)
    start = time.perf_counter()
    extract_features(manifest, upstream, root, settings, progress=False)
    return time.perf_counter() - start


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=2.0, help="audio to process")
    parser.add_argument("--family", default="wav2vec2", help="random-init model family (base geometry)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats; the best time counts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        per_speaker = max(1, round(args.minutes * 60 / 2.0 / 10))  # espeak sentences last ~2 s; 10 speakers
        manifest = synthesize_corpus(
            tmp / "corpus", num_speakers=10, utterances_per_speaker=per_speaker, seed=0
        )
        audio_seconds = manifest.total_duration
        upstream = load_upstream(args.family, random_init=True, seed=0, device=args.device)
        layers = [name for name in upstream.layer_names if name.startswith("tf.")]
        waves = [load_audio(u.audio_path, upstream.sample_rate) for u in manifest]
        bare, pipe = [], []
        for repeat in range(args.repeats):
            bare.append(bare_forward_seconds(upstream.model, waves, args.device))
            pipe.append(pipeline_seconds(manifest, upstream, layers, tmp / f"store{repeat}"))
        bare_xrt, pipe_xrt = audio_seconds / min(bare), audio_seconds / min(pipe)
        figures = {
            "device": args.device,
            "model": f"{args.family} base geometry, random init",
            "layers": len(layers),
            "audio_seconds": round(audio_seconds, 1),
            "utterances": len(manifest),
            "torch_threads": torch.get_num_threads(),
            "bare_forward_xRT": round(bare_xrt, 2),
            "pipeline_xRT": round(pipe_xrt, 2),
            "pipeline_over_bare": round(pipe_xrt / bare_xrt, 3),
            "versions": environment_versions(),
        }
    print(f"{'':24s}{'xRT':>10s}")
    print(f"{'bare forward':24s}{bare_xrt:10.2f}")
    print(f"{'speechrep pipeline':24s}{pipe_xrt:10.2f}")
    print(
        f"pipeline / bare = {figures['pipeline_over_bare']:.3f}  ({audio_seconds:.0f} s of audio, "
        f"{len(layers)} layers, {args.device})"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
