"""A multi-speaker synthetic speech corpus with known generative factors and exact alignments.

Each speaker is one combination of espeak-ng voice variant, base pitch and speaking rate (the
:class:`SpeakerFactors`); each utterance is a sentence from :class:`SentenceGenerator`. Because
the synthesiser reports every phone onset, the phone and word alignments are exact, not
forced-aligned, and because the factors are chosen, disentanglement metrics have ground truth.
Everything is a function of the seed: the same seed gives byte-identical wav files.

Layout of ``out_dir``::

    manifest.jsonl              the Manifest (audio paths relative to it)
    speakers.json               {speaker: {"voice": ..., "pitch": ..., "rate": ...}}
    wav/<speaker>/<id>.wav      16-bit PCM at ``sample_rate``

Alignments: a phone starts at its espeak-ng onset and ends at the next onset (the last at the end
of the audio); a word spans its phones. Silences (before the first phone, espeak-ng's pauses) are
phones labelled ``"sil"`` that belong to no word, so the phones tile the audio and every other
phone lies inside its word.
"""

from __future__ import annotations

import json
import logging
import os
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from speechrep.data.audio import resample, save_audio
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest, Segment, Utterance
from speechrep.data.synth.espeak import (
    PITCH_LIMITS,
    RATE_LIMITS,
    EspeakSynthesizer,
    Synthesis,
    list_voice_variants,
)
from speechrep.data.synth.text import SentenceGenerator
from speechrep.utils.io import atomic_write_json
from speechrep.utils.progress import show_progress

log = logging.getLogger(__name__)

#: The default voices: American English with espeak-ng's seven male and five female variants
#: (plain formant synthesis; the novelty variants such as ``whisper`` or ``klatt`` are left out).
#: One accent keeps the phone inventory shared by all speakers.
DEFAULT_VOICES: tuple[str, ...] = tuple(
    f"en-us+{variant}" for variant in ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
)


@dataclass(frozen=True)
class SpeakerFactors:
    """The generative factors of one synthetic speaker.

    Attributes:
        voice: espeak-ng voice with variant, e.g. ``"en-us+f2"`` (timbre: formants, base pitch).
        pitch: base pitch on espeak-ng's 0-100 scale (50 is the variant's own).
        rate: speaking rate in words per minute.
    """

    voice: str
    pitch: int
    rate: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpeakerFactors:
        return cls(voice=str(data["voice"]), pitch=int(data["pitch"]), rate=int(data["rate"]))


def speaker_id(index: int) -> str:
    """``spk000``, ``spk001``, ...: zero-padded so ids sort in creation order."""
    return f"spk{index:03d}"


def choose_speakers(
    num_speakers: int,
    seed: int,
    voices: Sequence[str] | None = None,
    pitch_range: tuple[int, int] = (20, 80),
    rate_range: tuple[int, int] = (130, 230),
    pitch_step: int = 5,
    rate_step: int = 10,
) -> list[SpeakerFactors]:
    """``num_speakers`` distinct (voice, pitch, rate) combinations, reproducibly for ``seed``.

    Pitch and rate take the grid values ``range[0], range[0] + step, ... <= range[1]`` (a few
    discrete levels suit factor-wise metrics and probes). Voices are dealt in rounds of a seeded
    shuffle, so each voice serves about equally many speakers; pitch and rate are drawn uniformly
    from their grids, redrawing a combination that is already taken.
    """
    voices = list(voices) if voices is not None else list(DEFAULT_VOICES)
    if not voices:
        raise ValueError("choose_speakers needs at least one voice")
    if len(set(voices)) != len(voices):
        raise ValueError(f"voices must be distinct, got {voices}")
    pitches = _grid("pitch", pitch_range, pitch_step, PITCH_LIMITS)
    rates = _grid("rate", rate_range, rate_step, RATE_LIMITS)
    capacity = len(voices) * len(pitches) * len(rates)
    if not 1 <= num_speakers <= capacity:
        raise ValueError(
            f"cannot choose {num_speakers} distinct speakers from {len(voices)} voices x {len(pitches)} "
            f"pitches x {len(rates)} rates = {capacity} combinations; widen the ranges or add voices"
        )
    rng = random.Random(seed)
    taken: set[SpeakerFactors] = set()
    used_per_voice = dict.fromkeys(voices, 0)
    speakers: list[SpeakerFactors] = []
    deck: list[str] = []
    while len(speakers) < num_speakers:
        if not deck:
            deck = list(voices)
            rng.shuffle(deck)
        voice = deck.pop()
        if used_per_voice[voice] == len(pitches) * len(rates):
            continue  # every pitch x rate of this voice is taken; the capacity check leaves others
        while True:  # rejection sampling: cheap unless a voice's grid is nearly full
            factors = SpeakerFactors(voice, rng.choice(pitches), rng.choice(rates))
            if factors not in taken:
                break
        taken.add(factors)
        used_per_voice[voice] += 1
        speakers.append(factors)
    return speakers


def _grid(name: str, bounds: Sequence[int], step: int, limits: tuple[int, int]) -> list[int]:
    low, high = (int(x) for x in bounds)
    if step < 1 or low > high or low < limits[0] or high > limits[1]:
        raise ValueError(
            f"{name}_range {tuple(bounds)} with step {step} is invalid: need "
            f"{limits[0]} <= min <= max <= {limits[1]} and a positive step"
        )
    return list(range(low, high + 1, int(step)))


def synthesize_corpus(
    out_dir: str | os.PathLike,
    num_speakers: int,
    utterances_per_speaker: int,
    seed: int = 0,
    sample_rate: int = 16_000,
    words_per_sentence: tuple[int, int] = (4, 9),
    voices: Sequence[str] | None = None,
    pitch_range: tuple[int, int] = (20, 80),
    rate_range: tuple[int, int] = (130, 230),
    pitch_step: int = 5,
    rate_step: int = 10,
    vocabulary: Sequence[str] | str | os.PathLike | None = None,
    vocabulary_size: int | None = None,
    parallel_text: bool = False,
    progress: bool | None = None,
) -> Manifest:
    """Synthesise a corpus into ``out_dir`` and return its (saved, validated) manifest.

    Args:
        out_dir: destination folder (created); see the module docstring for its layout. Files of
            an earlier run that the new manifest does not name are left alone.
        num_speakers: number of distinct speakers (see :func:`choose_speakers`).
        utterances_per_speaker: sentences each speaker reads.
        seed: the only source of randomness: speakers, sentences and audio follow from it.
        sample_rate: rate of the written audio (espeak-ng's 22050 Hz output is resampled).
        words_per_sentence: inclusive range of sentence lengths in words.
        voices: espeak-ng voices with variants (default :data:`DEFAULT_VOICES`).
        pitch_range, rate_range, pitch_step, rate_step: the grids of pitch and rate levels.
        vocabulary: word list or vocabulary file (default ``data_samples/vocabulary.txt``).
        vocabulary_size: use only the first ``n`` vocabulary words (more repetitions per word).
        parallel_text: every speaker reads the same sentences (content crossed with speaker).
        progress: show a progress bar; ``None``: only when stderr is a terminal.

    Returns:
        The manifest as read back from ``out_dir/manifest.jsonl``: ids ``<speaker>_<nnnn>``, text =
        the sentence, labels ``{"voice", "pitch", "rate"}``; ``out_dir/speakers.json`` maps each
        speaker to its factors.
    """
    if utterances_per_speaker < 1:
        raise ValueError(f"utterances_per_speaker must be positive, got {utterances_per_speaker}")
    voices = list(voices) if voices is not None else list(DEFAULT_VOICES)
    known = set(list_voice_variants())
    for voice in voices:
        variant = voice.partition("+")[2]
        if variant and variant not in known:
            raise CorpusError(
                f"voice {voice!r}: espeak-ng has no variant {variant!r} (see list_voice_variants())"
            )
    out_dir = Path(out_dir)
    speakers = choose_speakers(num_speakers, seed, voices, pitch_range, rate_range, pitch_step, rate_step)
    generator = SentenceGenerator(vocabulary, seed, words_per_sentence, vocabulary_size)
    shared = generator.sentences(utterances_per_speaker) if parallel_text else None
    synthesizer = EspeakSynthesizer()

    jobs = []
    for s, factors in enumerate(speakers):
        texts = shared if shared is not None else generator.sentences(utterances_per_speaker)
        jobs.extend((speaker_id(s), factors, k, text) for k, text in enumerate(texts))
    show = show_progress(progress)
    utterances = []
    for speaker, factors, k, text in tqdm(jobs, desc="synthesize", unit="utt", disable=not show):
        utt_id = f"{speaker}_{k:04d}"
        synthesis = synthesizer.synthesize(
            text, factors.voice, factors.pitch, factors.rate, seed=zlib.crc32(f"{seed}/{utt_id}".encode())
        )
        if [word for word, _ in synthesis.words] != text.split():
            log.warning(
                "%s: espeak-ng's words %s differ from the sentence %r (a multi-word entry it could not "
                "split); the manifest keeps espeak-ng's",
                utt_id,
                [word for word, _ in synthesis.words],
                text,
            )
        wave = resample(synthesis.audio, synthesis.sample_rate, sample_rate)
        path = save_audio(out_dir / "wav" / speaker / f"{utt_id}.wav", wave, sample_rate)
        utterances.append(
            _utterance(
                utt_id, path, sample_rate, wave.shape[0] / sample_rate, speaker, factors, text, synthesis
            )
        )

    manifest = Manifest(utterances, name=out_dir.name or "synthetic")
    manifest.check()
    atomic_write_json(out_dir / "speakers.json", {speaker_id(s): f.as_dict() for s, f in enumerate(speakers)})
    manifest_path = manifest.save(out_dir / "manifest.jsonl")
    log.info(
        "synthesised %d utterances (%.1f min) of %d speakers into %s",
        len(manifest),
        manifest.total_duration / 60,
        len(speakers),
        out_dir,
    )
    return Manifest.load(manifest_path)  # exactly what consumers will read (times rounded to microseconds)


def _utterance(
    utt_id: str,
    path: Path,
    sample_rate: int,
    duration: float,
    speaker: str,
    factors: SpeakerFactors,
    text: str,
    synthesis: Synthesis,
) -> Utterance:
    """The manifest record: sample onsets become seconds; what ends at the end of the synthesised
    audio ends at the end of the resampled audio (they differ by under one output sample)."""
    rate, last = synthesis.sample_rate, synthesis.num_samples

    def segments(spans: list[tuple[str, int, int]]) -> list[Segment]:
        out = []
        for label, start, end in spans:
            start_s, end_s = start / rate, (duration if end >= last else min(end / rate, duration))
            if end_s > start_s:
                out.append(Segment(label, start_s, end_s))
        return out

    return Utterance(
        id=utt_id,
        audio_path=str(path),
        sample_rate=sample_rate,
        duration=duration,
        speaker=speaker,
        text=text,
        phones=segments(synthesis.phone_spans()),
        words=segments(synthesis.word_spans()),
        labels=factors.as_dict(),
    )


def load_speakers(path: str | os.PathLike) -> dict[str, SpeakerFactors]:
    """Read ``speakers.json`` (written by :func:`synthesize_corpus`): speaker id -> factors."""
    path = Path(path)
    if path.is_dir():
        path = path / "speakers.json"
    if not path.is_file():
        raise CorpusError(f"speaker file {path} does not exist; run scripts/synthesize.py first")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {speaker: SpeakerFactors.from_dict(factors) for speaker, factors in data.items()}


def synthesize_from_config(cfg: Mapping[str, Any]) -> Manifest:
    """Run :func:`synthesize_corpus` from a composed ``synthesize`` config (the entry script)."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    names = (
        "num_speakers",
        "utterances_per_speaker",
        "seed",
        "sample_rate",
        "words_per_sentence",
        "voices",
        "pitch_range",
        "rate_range",
        "pitch_step",
        "rate_step",
        "vocabulary",
        "vocabulary_size",
        "parallel_text",
        "progress",
    )
    settings = {name: cfg[name] for name in names if name in cfg}
    for name in ("words_per_sentence", "pitch_range", "rate_range"):
        if name in settings:
            settings[name] = tuple(settings[name])
    return synthesize_corpus(cfg["out_dir"], **settings)


__all__ = [
    "DEFAULT_VOICES",
    "SpeakerFactors",
    "choose_speakers",
    "load_speakers",
    "speaker_id",
    "synthesize_corpus",
    "synthesize_from_config",
]
