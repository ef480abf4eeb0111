"""Benchmark: our torch VMD next to vmdpy, and the throughput of EMD, EWT and the filter bank.

Cases (K = 4 modes, alpha 2000, tau 0, no DC mode, init 1 (uniform), tol 1e-7 for both sides):

* **utterance**: one 4-s SimVowels-like utterance at 16 kHz (64,000 samples);
* **frames**: 1,000 frames of 400 samples; vmdpy decomposes them one by one, ours as one batch.

Each measurement runs in a fresh child process (``spawn``). **Peak memory** is the child's peak
resident set size (``ru_maxrss``) minus its resident size just before the call, after imports and
input creation. This counts NumPy and torch CPU allocations alike (tracemalloc does not see
torch's allocator, so it would flatter our side); on the GPU it is ``torch.cuda.max_memory_allocated``
during the call. Times are wall-clock, best of ``--repeats`` (vmdpy once: it is slow and its peak is
the same every run). Torch uses ``--threads`` intra-op threads (default 1: vmdpy's NumPy FFTs are
single-threaded). Prints each side, the time ratio and the memory ratio; ``--json`` saves them.

    python scripts/bench/decompose.py                 # CPU, and GPU when torch.cuda.is_available()
    python scripts/bench/decompose.py --quick         # 1-s utterance, 100 frames
    python scripts/bench/decompose.py --json out.json --threads 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

SR = 16_000
VMD_SETTINGS = {"alpha": 2000.0, "tau": 0.0, "k": 4, "dc": False, "init": 1, "tol": 1e-7}


def simvowel_utterance(seconds: float, seed: int = 0) -> np.ndarray:
    """SimVowels-like audio: 0.1-s segments of noise through three formant band-passes, plus noise."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    segments = []
    for _ in range(max(1, round(seconds * 10))):
        white = rng.standard_normal(1600)
        segment = np.zeros(1600)
        for formant, gain in zip(rng.uniform([300, 900, 2200], [800, 2000, 3000]), (1.0, 0.5, 0.3)):
            sos = scipy.signal.butter(4, [formant - 100, formant + 100], "bandpass", fs=SR, output="sos")
            segment += gain * scipy.signal.sosfilt(sos, white)
        segments.append(segment / np.abs(segment).max())
    x = np.concatenate(segments)[: round(seconds * SR)]
    return x + rng.standard_normal(len(x)) * np.sqrt(np.mean(x**2) / 10**1.5)


def inputs(case: str, quick: bool) -> np.ndarray:
    if case == "utterance":
        return simvowel_utterance(1.0 if quick else 4.0)
    count = 100 if quick else 1000
    return simvowel_utterance(count * 400 / SR, seed=1).reshape(count, 400)


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(side: str, case: str, quick: bool, threads: int, repeats: int) -> dict[str, Any]:
    """Run one side on one case in this (child) process; time and peak memory of the call."""
    import torch

    torch.set_num_threads(threads)
    x = inputs(case, quick)
    method, _, device = side.partition("@")
    if method == "vmdpy":
        from vmdpy import VMD

        s = VMD_SETTINGS

        def call() -> None:
            for row in np.atleast_2d(x):
                VMD(row, s["alpha"], s["tau"], s["k"], s["dc"], s["init"], s["tol"])

        repeats = 1
    elif method.startswith("vmd"):
        from speechrep.decvae.decomposition import vmd

        dtype = torch.float32 if method.endswith("32") else torch.float64
        signals = torch.as_tensor(np.atleast_2d(x), dtype=dtype, device=device)

        def call() -> None:
            vmd(signals, device=device, dtype=dtype, **VMD_SETTINGS)

    else:
        from speechrep.decvae.decomposition import EMDDecomposition, EWTDecomposition, FilterDecomposition

        classes = {"emd": EMDDecomposition, "ewt": EWTDecomposition, "filter": FilterDecomposition}
        model = classes[method](4, device=device)
        signals = torch.as_tensor(np.atleast_2d(x), device=device)

        def call() -> None:
            model(signals)

    on_gpu = device.startswith("cuda")
    call_warm = method not in ("vmdpy", "emd")
    if call_warm:  # first call: kernel/plan set-up, not the method's cost
        small = np.atleast_2d(x)[:2, : min(x.shape[-1], 4000)]
        if method.startswith("vmd"):
            vmd(torch.as_tensor(small, dtype=signals.dtype, device=device), device=device, **VMD_SETTINGS)
        else:
            model(torch.as_tensor(small, device=device))
    if on_gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    rss_before = _rss_mib()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        if on_gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() - before) / 2**20 if on_gpu else _peak_rss_mib() - rss_before
    signals_count = len(np.atleast_2d(x))
    return {
        "side": side,
        "case": case,
        "seconds": min(times),
        "all_seconds": times,
        "peak_mib": max(peak, 0.0),
        "memory": "cuda.max_memory_allocated" if on_gpu else "max RSS - RSS before",
        "signals_per_second": signals_count / min(times),
    }


def run_child(side: str, case: str, quick: bool, threads: int, repeats: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(measure, side, case, quick, threads, repeats).result()


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="1-s utterance and 100 frames")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-gpu", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from speechrep.utils.provenance import environment_versions

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.no_gpu else [])
    results: list[dict[str, Any]] = []
    print(f"VMD settings {VMD_SETTINGS}; torch threads {args.threads}; quick={args.quick}")
    print(f"{'case':<10} {'side':<14} {'seconds':>9} {'peak MiB':>9} {'speed-up':>9} {'mem ratio':>10}")
    for case in ("utterance", "frames"):
        reference = run_child("vmdpy", case, args.quick, args.threads, 1)
        results.append(reference)
        print(f"{case:<10} {'vmdpy':<14} {reference['seconds']:>9.3f} {reference['peak_mib']:>9.1f}")
        for device in devices:
            for method in ("vmd64", "vmd32"):
                row = run_child(f"{method}@{device}", case, args.quick, args.threads, args.repeats)
                row["speedup_vs_vmdpy"] = reference["seconds"] / row["seconds"]
                row["memory_fraction_of_vmdpy"] = row["peak_mib"] / max(reference["peak_mib"], 1e-9)
                results.append(row)
                print(
                    f"{case:<10} {row['side']:<14} {row['seconds']:>9.3f} {row['peak_mib']:>9.1f} "
                    f"{row['speedup_vs_vmdpy']:>8.1f}x {row['memory_fraction_of_vmdpy']:>10.4f}"
                )
    print(f"\n{'case':<10} {'method':<14} {'seconds':>9} {'signals/s':>10} {'audio s/s':>10}")
    for case in ("utterance", "frames"):
        for device in devices:
            for method in ("filter", "ewt", "emd"):
                if method == "emd" and device != "cpu":
                    continue  # PyEMD is NumPy: the device changes nothing
                row = run_child(f"{method}@{device}", case, args.quick, args.threads, args.repeats)
                x = inputs(case, args.quick)
                row["audio_seconds_per_second"] = x.size / SR / row["seconds"]
                results.append(row)
                print(
                    f"{case:<10} {row['side']:<14} {row['seconds']:>9.3f} {row['signals_per_second']:>10.1f} "
                    f"{row['audio_seconds_per_second']:>10.2f}"
                )
    if args.json:
        payload = {
            "results": results,
            "settings": VMD_SETTINGS,
            "threads": args.threads,
            "quick": args.quick,
            "load_average": os.getloadavg(),
            "gpu": torch.cuda.get_device_name() if "cuda" in devices else None,
            "versions": environment_versions(),
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
