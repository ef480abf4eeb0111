"""A synthetic counterpart of the Artificial Speech Dataset: all 729 CVCVCV words, several voices.

Words are three consonant-vowel syllables with C in {b, d, g} and V in {a, i, u} (the 9 syllables
``ba`` … ``gu``, 9³ = 729 words), as in de Boer's recordings used by Smooth InfoMax. They are
spoken by espeak-ng with an Italian voice (whose spelling is phonetic and whose intervocalic
stops stay stops: ``babagu`` -> b a b a ɡ ʊ) in several voice variants, so there are speakers to
hold out or to probe.

**Syllable boundaries** come from the synthesiser's phone onsets: a word's non-silent phones
must be exactly consonant, vowel × 3; syllable ``j`` runs from its consonant's onset to the next
consonant's onset (the last one to the onset of the trailing silence). A word whose phones do not
have that shape is skipped and reported.

**Split.** Words, not clips, are split: a seeded ``test_fraction`` of the 729 words is held out
for every voice, so no word (and no take of it) appears in both parts — unlike the published
dataset, whose syllable test clips were mostly heard by the encoder (see ``reference/sim.md``).

Layout of ``out_dir``::

    words.jsonl                     Manifest of word clips (both splits; labels["split"])
    syllables.jsonl                 Manifest of syllable clips cut from the word clips
    wav/<speaker>/<word>.wav        16-bit PCM at ``sample_rate``
    wav/<speaker>/<word>_<pos>_<syl>.wav

Labels: ``split``, ``word``, ``voice``; word clips ``syllable_1`` … ``syllable_3``; syllable clips
``syllable``, ``position`` (1-based, as in the published file names), ``vowel``, ``consonant``.
Word clips carry the phone alignment (espeak-ng labels), one word segment (the whole word) and
the syllable spans in seconds in ``labels["syllable_spans"]``.
"""

from __future__ import annotations

import itertools
import logging
import random
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from speechrep.data.audio import resample, save_audio
from speechrep.data.corpora.syllables import CONSONANTS, SYLLABLES, VOWELS
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest, Segment, Utterance
from speechrep.data.synth.corpus import speaker_id
from speechrep.data.synth.espeak import EspeakSynthesizer, Synthesis

log = logging.getLogger(__name__)

#: All 729 CVCVCV words, in the order of the syllable numbering (bababa, bababi, ..., gugugu).
WORDS: tuple[str, ...] = tuple("".join(s) for s in itertools.product(SYLLABLES, repeat=3))

#: Italian with two male and two female espeak-ng variants.
DEFAULT_SYLLABLE_VOICES: tuple[str, ...] = ("it+m1", "it+m3", "it+f2", "it+f4")

SPLITS = ("train", "test")


def split_words(words: Sequence[str], test_fraction: float, seed: int) -> dict[str, str]:
    """word -> ``"train"`` / ``"test"``: a seeded ``round(test_fraction · n)`` words go to test."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    shuffled = sorted(set(words))
    random.Random(seed).shuffle(shuffled)
    num_test = max(1, round(test_fraction * len(shuffled)))
    return {word: ("test" if i < num_test else "train") for i, word in enumerate(shuffled)}


def syllable_spans(synthesis: Synthesis) -> list[tuple[int, int]] | None:
    """``[(start, end)]`` samples of the three syllables, or ``None`` if the phones are not CVCVCV."""
    spans = synthesis.phone_spans()
    voiced = [(label, start, end) for label, start, end in spans if label != "sil"]
    if len(voiced) != 6:
        return None
    return [(voiced[2 * j][1], voiced[2 * j + 1][2]) for j in range(3)]


def synthesize_syllables(
    out_dir: str | Path,
    voices: Sequence[str] = DEFAULT_SYLLABLE_VOICES,
    words: Sequence[str] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    sample_rate: int = 16_000,
    rate: int = 150,
) -> dict[str, Manifest]:
    """Synthesise word and syllable clips into ``out_dir``; return ``{"word": ..., "syllable": ...}``.

    Args:
        out_dir: destination (layout in the module docstring).
        voices: espeak-ng voices; each is one speaker (``spk000`` …, in this order).
        words: a subset of :data:`WORDS` (default: all 729).
        test_fraction: share of words held out (for every voice).
        seed: the split and espeak-ng's generator follow from it.
        sample_rate: rate of the written clips.
        rate: speaking rate in words per minute.
    """
    words = list(WORDS if words is None else words)
    unknown = sorted(set(words) - set(WORDS))
    if unknown:
        raise ValueError(f"not CVCVCV words over {{{CONSONANTS}}} x {{{VOWELS}}}: {unknown[:5]}")
    if not voices:
        raise ValueError("synthesize_syllables needs at least one voice")
    out_dir = Path(out_dir)
    split = split_words(words, test_fraction, seed)
    synthesizer = EspeakSynthesizer()
    word_utts: list[Utterance] = []
    syllable_utts: list[Utterance] = []
    skipped: list[str] = []
    for index, voice in enumerate(voices):
        speaker = speaker_id(index)
        for word in words:
            synthesis = synthesizer.synthesize(
                word, voice, rate=rate, seed=zlib.crc32(f"{seed}/{voice}/{word}".encode())
            )
            spans = syllable_spans(synthesis)
            if spans is None:
                skipped.append(f"{voice}/{word}: phones {[p for p, _ in synthesis.phones]}")
                continue
            wave = resample(synthesis.audio, synthesis.sample_rate, sample_rate)
            scale = sample_rate / synthesis.sample_rate
            duration = wave.shape[0] / sample_rate
            common = {"split": split[word], "word": word, "voice": voice}
            path = save_audio(out_dir / "wav" / speaker / f"{word}.wav", wave, sample_rate)
            seconds = [(start / synthesis.sample_rate, end / synthesis.sample_rate) for start, end in spans]
            word_utts.append(
                Utterance(
                    id=f"{speaker}_{word}",
                    audio_path=str(path),
                    sample_rate=sample_rate,
                    duration=duration,
                    speaker=speaker,
                    text=word,
                    phones=[
                        Segment(
                            label, start / synthesis.sample_rate, min(end / synthesis.sample_rate, duration)
                        )
                        for label, start, end in synthesis.phone_spans()
                        if end / synthesis.sample_rate > start / synthesis.sample_rate
                    ],
                    words=[Segment(word, seconds[0][0], min(seconds[-1][1], duration))],
                    labels={
                        **common,
                        **{f"syllable_{j + 1}": word[2 * j : 2 * j + 2] for j in range(3)},
                        "syllable_spans": [[round(a, 6), round(min(b, duration), 6)] for a, b in seconds],
                    },
                )
            )
            for j, (start, end) in enumerate(spans):
                syllable = word[2 * j : 2 * j + 2]
                clip = wave[round(start * scale) : round(end * scale)]
                clip_path = save_audio(
                    out_dir / "wav" / speaker / f"{word}_{j + 1}_{syllable}.wav", clip, sample_rate
                )
                syllable_utts.append(
                    Utterance(
                        id=f"{speaker}_{word}_{j + 1}_{syllable}",
                        audio_path=str(clip_path),
                        sample_rate=sample_rate,
                        duration=clip.shape[0] / sample_rate,
                        speaker=speaker,
                        text=syllable,
                        labels={
                            **common,
                            "syllable": syllable,
                            "position": j + 1,
                            "vowel": syllable[1],
                            "consonant": syllable[0],
                        },
                    )
                )
    if skipped:
        log.warning("skipped %d clips whose phones are not CVCVCV, e.g. %s", len(skipped), skipped[0])
    if not word_utts:
        raise CorpusError(f"no word could be synthesised as CVCVCV with voices {list(voices)}")
    manifests = {}
    for level, utts in (("word", word_utts), ("syllable", syllable_utts)):
        manifest = Manifest(utts, name=f"synthetic-syllables-{level}").check()
        manifests[level] = Manifest.load(manifest.save(out_dir / f"{level}s.jsonl"))
    return manifests


def read_synthetic_syllables(
    root: str | Path,
    level: Literal["word", "syllable"] = "word",
    split: Literal["train", "test"] | None = None,
) -> Manifest:
    """The word or syllable manifest written by :func:`synthesize_syllables`, optionally one split."""
    if level not in ("word", "syllable"):
        raise ValueError(f"level must be 'word' or 'syllable', got {level!r}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    path = Path(root) / f"{level}s.jsonl"
    if not path.is_file():
        raise CorpusError(
            f"{path} does not exist; synthesise the corpus first "
            "(speechrep.data.synth.syllables.synthesize_syllables or scripts/recipes/sim_syllables.sh)"
        )
    manifest = Manifest.load(path)
    if split is None:
        return manifest
    return Manifest([u for u in manifest if u.labels["split"] == split], name=f"{manifest.name}-{split}")
