"""The Artificial Speech Dataset of CVCVCV nonsense words (de Boer; github.com/fdenoodt/
Artificial-Speech-Dataset), used for the syllable experiments of SIM.

Words are three consonant-vowel syllables with C in {b, d, g} and V in {a, i, u} (9 syllables,
729 words), spoken by one person. A folder holds either whole-word clips or syllable clips::

    <root>/<word>_<take>.wav               babagu_1.wav           (reshuffledv2/{train,test})
    <root>/<word>_<take>_<pos>_<syl>.wav   babagu_1_3_gu.wav      (split up data padded/...)

**Syllable position.** ``<pos>`` is 1-based: the dataset's own files and scripts name the first
syllable 1 (``bababa_1_1_ba``, ``bidadi_1_1_bi``, ``gudugi_1_2_du`` -- ``du`` is the second
syllable of ``gudugi``). ``labels["position"]`` keeps that 1-based number, and a clip whose
syllable is not the ``<pos>``-th syllable of its word is skipped as misnamed.

Word clips are 44.1 kHz and the published syllable clips 22.05 kHz; the record holds each
file's own rate.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest

from .common import ReadReport, SkipLog, finish, list_children, require_dir, utterance_from_audio

__all__ = ["SYLLABLES", "read_syllables", "read_syllables_with_report"]

CONSONANTS, VOWELS = "bdg", "aiu"
#: The nine syllables, in the order the dataset's loaders number them (ba = 0 ... gu = 8).
SYLLABLES = tuple(c + v for c in CONSONANTS for v in VOWELS)

_SYL = f"[{CONSONANTS}][{VOWELS}]"
_WORD_CLIP = re.compile(rf"(?P<word>(?:{_SYL}){{3}})_(?P<take>\d+)\.wav", re.IGNORECASE)
_SYLLABLE_CLIP = re.compile(
    rf"(?P<word>(?:{_SYL}){{3}})_(?P<take>\d+)_(?P<pos>\d+)_(?P<syl>{_SYL})\.wav", re.IGNORECASE
)


def read_syllables_with_report(
    root: str | os.PathLike, level: Literal["word", "syllable"] = "word"
) -> ReadReport:
    """Read a folder of word or syllable clips; see :func:`read_syllables`. Also returns the
    skipped files."""
    if level not in ("word", "syllable"):
        raise ValueError(f"level must be 'word' or 'syllable', got {level!r}")
    root = require_dir(root, "syllable dataset folder")
    pattern = _WORD_CLIP if level == "word" else _SYLLABLE_CLIP
    expected = "<word>_<take>.wav" if level == "word" else "<word>_<take>_<pos>_<syllable>.wav"
    log = SkipLog("skip")
    utterances = []
    for path in list_children(root, dirs=False):
        match = pattern.fullmatch(path.name)
        if match is None:
            log.skip(path, f"name does not match {expected}")
            continue
        word = match["word"].lower()
        syllables = [word[i : i + 2] for i in range(0, 6, 2)]
        labels: dict[str, object] = {"word": word, "take": int(match["take"])}
        if level == "word":
            text = word
            labels.update({f"syllable_{k}": syl for k, syl in enumerate(syllables, start=1)})
        else:
            syllable, position = match["syl"].lower(), int(match["pos"])
            if not 1 <= position <= 3 or syllables[position - 1] != syllable:
                log.skip(path, f"{syllable!r} is not syllable {position} (1-based) of {word!r}")
                continue
            text = syllable
            labels.update({"syllable": syllable, "position": position, "vowel": syllable[1]})
            labels["consonant"] = syllable[0]
        info = log.probe_audio(path, path.stem)
        if info is None:
            continue
        utterances.append(
            utterance_from_audio(
                path.stem,
                info,
                text=text,
                labels=labels,
            )
        )
    if not utterances:
        first = f" (e.g. {log.skipped[0].path})" if log.skipped else ""
        raise CorpusError(f"no {level} clips named {expected} in {root}{first}")
    return finish(f"syllables-{level}-{Path(root).name}", utterances, log)


def read_syllables(root: str | os.PathLike, level: Literal["word", "syllable"] = "word") -> Manifest:
    """Read a folder of the Artificial Speech Dataset into a Manifest.

    ``level="word"`` reads ``<word>_<take>.wav`` clips: text is the word and labels hold
    ``word``, ``take`` and ``syllable_1`` .. ``syllable_3``. ``level="syllable"`` reads
    ``<word>_<take>_<pos>_<syl>.wav`` clips: text is the syllable and labels hold ``word``,
    ``take``, ``syllable``, ``position`` (1-based, see the module docstring), ``vowel`` and
    ``consonant``. The id is the file name without ``.wav``; there is one (unnamed) speaker, so
    ``speaker`` is ``None``. Files whose names do not fit the level's pattern, or whose
    syllable contradicts its position, are skipped and reported (a warning; the list from
    :func:`read_syllables_with_report`); a folder with no matching clip raises.
    """
    return read_syllables_with_report(root, level).manifest
