"""A layer-wise summary report of feature stores: numbers (JSON, CSV), a plot and a markdown page.

For each phone-span store it measures, per layer, how much of the variance of phone-segment means is
explained by phone identity and by speaker identity (:func:`speechrep.analysis.class_separability`).
This is the demo's first look at a model; the full analysis suite (CCA, MI, CKA, ABX, probes) adds
its own result files beside it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speechrep.analysis import class_separability
from speechrep.data.manifest import Manifest
from speechrep.store import FeatureStore
from speechrep.utils.io import atomic_write_json, atomic_write_text
from speechrep.utils.provenance import environment_versions
from speechrep.viz.layerwise import plot_layerwise


def layerwise_separability(store: FeatureStore, manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Per layer: phone and speaker separability of the store's segment rows, with chance levels."""
    table = store.segments
    speakers = np.array([manifest[u].speaker or "?" for u in table.utterance])
    results = {}
    for layer in store.layers:
        x = np.asarray(store.features(layer), dtype=np.float64)
        phone = class_separability(x, table.label)
        speaker = class_separability(x, speakers)
        results[layer] = {
            "phone": phone.score,
            "phone_chance": phone.chance,
            "speaker": speaker.score,
            "speaker_chance": speaker.chance,
            "rows": phone.num_rows,
            "dim": int(x.shape[1]),
        }
    return results


def write_layerwise_report(
    stores: Sequence[FeatureStore],
    manifest: Manifest,
    out_dir: str | os.PathLike,
    config: dict[str, Any],
    title: str = "speechrep layer-wise report",
) -> Path:
    """Write ``results.json``, ``results.csv``, ``layerwise.png`` and ``report.md`` into ``out_dir``."""
    out = Path(out_dir)
    results = {store.upstream_name: layerwise_separability(store, manifest) for store in stores}
    atomic_write_json(
        out / "results.json",
        {
            "results": results,
            "stores": {s.upstream_name: str(s.path) for s in stores},
            "config": config,
            "seed": config.get("seed"),
            "versions": environment_versions(),
        },
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["upstream", "layer", "phone", "phone_chance", "speaker", "speaker_chance", "rows", "dim"]
    )
    for upstream, layers in results.items():
        for layer, r in layers.items():
            writer.writerow(
                [
                    upstream,
                    layer,
                    f"{r['phone']:.4f}",
                    f"{r['phone_chance']:.4f}",
                    f"{r['speaker']:.4f}",
                    f"{r['speaker_chance']:.4f}",
                    r["rows"],
                    r["dim"],
                ]
            )
    atomic_write_text(out / "results.csv", buffer.getvalue())
    curves = {
        u: {m: {layer: r[m] for layer, r in layers.items()} for m in ("phone", "speaker")}
        for u, layers in results.items()
    }
    chance = {
        u: {m: next(iter(layers.values()))[f"{m}_chance"] for m in ("phone", "speaker")}
        for u, layers in results.items()
    }
    plot_layerwise(curves, out / "layerwise.png", ylabel="variance explained (eta^2)", chance=chance)
    atomic_write_text(out / "report.md", _markdown(title, manifest, stores, results))
    return out / "report.md"


def _markdown(title: str, manifest: Manifest, stores: Sequence[FeatureStore], results: dict) -> str:
    phones = sum(len(u.phones) for u in manifest)
    lines = [
        f"# {title}",
        "",
        f"Corpus `{manifest.name}`: {len(manifest)} utterances, {len(manifest.speakers)} speakers, "
        f"{manifest.total_duration / 60:.1f} minutes, {phones} aligned phones.",
        "",
        "Per layer, the fraction of the variance of phone-segment means (middle third of each phone) "
        "explained by phone identity and by speaker identity (eta^2; dashed lines: chance level).",
        "",
        "![layer-wise separability](layerwise.png)",
        "",
    ]
    for store in stores:
        r = results[store.upstream_name]
        best = max(r, key=lambda layer: r[layer]["phone"])
        lines += [
            f"## {store.upstream_name}",
            "",
            f"Store `{store.path}` ({len(store.utterance_ids)} utterances, {len(store.skipped)} skipped). "
            f"Most phone-separable layer: `{best}` ({r[best]['phone']:.3f}).",
            "",
            "| layer | dim | phone | speaker |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {layer} | {v['dim']} | {v['phone']:.3f} | {v['speaker']:.3f} |" for layer, v in r.items()
        ]
        lines.append("")
    return "\n".join(lines)
