"""Write a SimVowels corpus: wav files, a Manifest of labelled vowel segments, and its description.

Layout of ``out_dir``::

    manifest.jsonl            every utterance of every split (audio paths relative to it)
    <split>.jsonl             the utterances of one split (train.jsonl, dev.jsonl, test.jsonl)
    simvowels.json            settings, speaker layout, seed, factor names and levels
    wav/<split>/<id>.wav      16-bit PCM

An utterance is ``segments_per_utterance`` segments of one speaker. Each segment's vowel and F0 level
are drawn uniformly and independently. Its factors are stored in the record: ``phones`` holds one
:class:`~speechrep.data.manifest.Segment` per vowel segment, labelled with the vowel symbol, and
``labels`` holds ``f0_hz`` (one value per segment), the speaker's ``vt`` and ``speaker_index``, the
``split``, ``snr_db`` and ``vowel_set``. :func:`segment_factors` turns this back into the integer
factor table ``(vowel, speaker, f0)`` of every segment.

Randomness: utterance ``k`` of the ``j``-th split draws everything (factors, then noise, segment by
segment) from ``np.random.default_rng([seed, j, k])``, so a run is bit-reproducible, an utterance does
not depend on how many others are made, and growing a split keeps the existing utterances.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from speechrep.data.audio import save_audio
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest, Segment, Utterance
from speechrep.data.simvowels.speakers import SpeakerLayout, speaker_name
from speechrep.data.simvowels.synthesis import SimVowelsSettings, synthesize_segment
from speechrep.utils.io import atomic_write_json
from speechrep.utils.progress import show_progress
from speechrep.utils.provenance import environment_versions

log = logging.getLogger(__name__)

#: The factors of a segment, in the column order of every factor table.
FACTOR_NAMES: tuple[str, ...] = ("vowel", "speaker", "f0")


@dataclass(frozen=True)
class UtteranceFactors:
    """The generative factors of one utterance: one speaker, a vowel and an F0 level per segment."""

    speaker: int
    vt: float
    vowels: np.ndarray  # (segments,) vowel indices
    f0_levels: np.ndarray  # (segments,) indices into settings.f0_levels


def draw_utterance(
    speaker: int, settings: SimVowelsSettings, layout: SpeakerLayout, rng: np.random.Generator
) -> tuple[UtteranceFactors, np.ndarray]:
    """Draw one utterance's factors for ``speaker`` and render it: ``(factors, float64 audio)``."""
    vt = layout.vt_of(speaker, rng)
    count = settings.segments_per_utterance
    vowels = rng.integers(len(settings.vowels), size=count)
    f0_levels = rng.integers(len(settings.f0_levels), size=count)
    audio = np.concatenate(
        [
            synthesize_segment(int(v), vt, settings.f0_levels[int(f)], settings, rng)
            for v, f in zip(vowels, f0_levels)
        ]
    )
    return UtteranceFactors(speaker, vt, vowels, f0_levels), audio


def simulate_corpus(
    out_dir: str | os.PathLike,
    num_utterances: Mapping[str, int],
    settings: SimVowelsSettings | None = None,
    layout: SpeakerLayout | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> Manifest:
    """Write a SimVowels corpus into ``out_dir`` (see the module docstring) and return its manifest.

    ``num_utterances`` maps each split of ``layout`` to its number of utterances; the split's speakers
    take turns (utterance ``k`` is spoken by its ``k mod n``-th speaker), so every speaker is used
    about equally often.
    """
    settings = settings or SimVowelsSettings()
    layout = layout or SpeakerLayout()
    unknown = set(num_utterances) - set(layout.split_names)
    if unknown or any(int(n) < 0 for n in num_utterances.values()):
        raise ValueError(
            f"num_utterances {dict(num_utterances)} must map splits of {list(layout.split_names)} "
            "to counts >= 0"
        )
    out_dir = Path(out_dir)
    jobs = [
        (j, split, k)
        for j, split in enumerate(layout.split_names)
        for k in range(int(num_utterances.get(split, 0)))
    ]
    show = show_progress(progress)
    utterances = []
    for j, split, k in tqdm(jobs, desc="simulate vowels", unit="utt", disable=not show):
        speakers = layout.speakers_of(split)
        factors, audio = draw_utterance(
            speakers[k % len(speakers)], settings, layout, np.random.default_rng([seed, j, k])
        )
        utt_id = f"{split}_{k:05d}"
        peak = float(np.abs(audio).max())
        if peak >= 1.0:
            raise CorpusError(f"{utt_id}: peak {peak:.2f} would clip; lower level_rms ({settings.level_rms})")
        path = save_audio(out_dir / "wav" / split / f"{utt_id}.wav", audio, settings.sample_rate)
        utterances.append(_record(utt_id, path, split, factors, settings))
    manifest = Manifest(utterances, name="simvowels").check()
    atomic_write_json(out_dir / "simvowels.json", describe(settings, layout, seed))
    for split in layout.split_names:
        manifest.filter(lambda u, s=split: u.labels["split"] == s).save(out_dir / f"{split}.jsonl")
    path = manifest.save(out_dir / "manifest.jsonl")
    log.info(
        "simulated %d utterances (%.1f min) into %s", len(manifest), manifest.total_duration / 60, out_dir
    )
    return Manifest.load(path)


def _record(
    utt_id: str, path: Path, split: str, factors: UtteranceFactors, settings: SimVowelsSettings
) -> Utterance:
    length = settings.segment_duration
    return Utterance(
        id=utt_id,
        audio_path=str(path),
        sample_rate=settings.sample_rate,
        duration=settings.utterance_samples / settings.sample_rate,
        speaker=speaker_name(factors.speaker),
        phones=[
            Segment(settings.vowels[int(v)].symbol, k * length, (k + 1) * length)
            for k, v in enumerate(factors.vowels)
        ],
        labels={
            "split": split,
            "vt": factors.vt,
            "speaker_index": factors.speaker,
            "f0_hz": [settings.f0_levels[int(f)] for f in factors.f0_levels],
            "snr_db": settings.snr_db,
            "vowel_set": settings.vowel_set,
        },
    )


def describe(settings: SimVowelsSettings, layout: SpeakerLayout, seed: int) -> dict[str, Any]:
    """What ``simvowels.json`` holds: everything needed to read the factors or regenerate the corpus."""
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.init}
    return {
        "seed": seed,
        "settings": fields,
        "speakers": dataclasses.asdict(layout),
        "factor_names": list(FACTOR_NAMES),
        "vowels": [dataclasses.asdict(v) for v in settings.vowels],
        "split_speakers": {split: list(layout.speakers_of(split)) for split in layout.split_names},
        "speaker_vt": layout.centres().tolist(),
        "versions": environment_versions(),
    }


def segment_factors(manifest: Manifest, settings: SimVowelsSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(factors (S, 3) int, utterance index (S,))`` of every segment of a SimVowels manifest.

    Columns follow :data:`FACTOR_NAMES`: vowel index, speaker index (over the whole layout), F0 level.
    """
    symbols = {v.symbol: i for i, v in enumerate(settings.vowels)}
    levels = {f: i for i, f in enumerate(settings.f0_levels)}
    rows, owners = [], []
    for u, utt in enumerate(manifest):
        f0s = utt.labels.get("f0_hz", [])
        if len(f0s) != len(utt.phones):
            raise CorpusError(f"{utt.id}: {len(utt.phones)} segments but {len(f0s)} f0_hz labels")
        for segment, f0 in zip(utt.phones, f0s):
            if segment.label not in symbols or float(f0) not in levels:
                raise CorpusError(
                    f"{utt.id}: segment {segment.label!r} at F0 {f0} is not in the {settings.vowel_set!r} "
                    f"vowels and f0_levels {settings.f0_levels}; pass the corpus's own settings "
                    "(load_description)"
                )
            rows.append((symbols[segment.label], int(utt.labels["speaker_index"]), levels[float(f0)]))
            owners.append(u)
    return np.array(rows, dtype=np.int64).reshape(-1, len(FACTOR_NAMES)), np.array(owners, dtype=np.int64)


def load_description(out_dir: str | os.PathLike) -> tuple[SimVowelsSettings, SpeakerLayout, int]:
    """``(settings, layout, seed)`` of a corpus written by :func:`simulate_corpus`."""
    path = Path(out_dir) / "simvowels.json"
    if not path.is_file():
        raise CorpusError(f"{path} does not exist; run scripts/simulate_vowels.py first")
    data = json.loads(path.read_text(encoding="utf-8"))
    layout = data["speakers"]
    layout["splits"] = [tuple(pair) for pair in layout["splits"]]
    return SimVowelsSettings(**data["settings"]), SpeakerLayout(**layout), int(data["seed"])


def simulate_from_config(cfg: Mapping[str, Any]) -> Manifest:
    """Run :func:`simulate_corpus` (and write the traversal sets) from a composed ``simulate_vowels`` config.

    ``cfg.traversal.factors`` lists the factors to traverse; each set is written to
    ``out_dir/traversal_<factor>.npz`` (see :mod:`~speechrep.data.simvowels.traversal`).
    """
    from omegaconf import DictConfig, OmegaConf

    from speechrep.data.simvowels.traversal import traversal_set

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    settings = SimVowelsSettings(**cfg["settings"])
    layout = SpeakerLayout(**cfg["speakers"])
    seed = int(cfg["seed"])
    manifest = simulate_corpus(
        cfg["out_dir"], cfg["num_utterances"], settings, layout, seed, progress=cfg.get("progress")
    )
    traversal = dict(cfg.get("traversal") or {})
    for factor in traversal.pop("factors", []):
        chosen = traversal_set(factor, settings, seed=seed, **traversal)
        chosen.save(Path(cfg["out_dir"]) / f"traversal_{factor}.npz")
    return manifest
