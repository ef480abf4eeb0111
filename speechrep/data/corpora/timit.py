"""TIMIT Acoustic-Phonetic Continuous Speech Corpus (LDC93S1).

On-disk layout (as on the LDC disc; copies may be all lower case: ``train/dr1/fcjf0/sa1.wav``)::

    <root>/<TRAIN|TEST>/<DR1..DR8>/<SPEAKER>/<SENTENCE>.WAV   NIST SPHERE audio, 16 kHz
                                            <SENTENCE>.PHN   "<start> <end> <phone>" per line
                                            <SENTENCE>.WRD   "<start> <end> <word>" per line
                                            <SENTENCE>.TXT   "<start> <end> <prompt text>"

with sample indices at 16 kHz. The speaker folder is the sex (``M``/``F``), the speaker's
initials and a digit (``MJSW0``); the sentence is ``SA1``-``SA2`` (dialect sentences, read by
everyone), ``SI<n>`` (phonetically diverse) or ``SX<n>`` (phonetically compact). Other files
(e.g. ``SA1.WAV.wav`` RIFF copies made by some distributions) are ignored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from speechrep.data.alignments import fold_timit_phones, read_text_lines, read_timit_segments
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest

from .common import (
    OnMissing,
    ReadReport,
    SkipLog,
    find_child,
    finish,
    list_children,
    require_dir,
    utterance_from_audio,
)

__all__ = ["read_timit", "read_timit_text", "read_timit_with_report"]

_SENTENCE = re.compile(r"(sa|si|sx)\d+", re.IGNORECASE)
_DIALECT = re.compile(r"dr[1-8]", re.IGNORECASE)
_PARTS = (".phn", ".wrd", ".txt")


def read_timit_text(path: str | os.PathLike) -> str:
    """The prompt of a TIMIT ``.TXT`` file: its line is ``<start> <end> <text>``
    (``0 46797 She had your dark suit in greasy wash water all year.``)."""
    path = Path(path)
    for number, line in read_text_lines(path):
        fields = line.split(maxsplit=2)
        if not fields:
            continue
        if len(fields) < 3 or not (fields[0].isdigit() and fields[1].isdigit()):
            raise CorpusError(f"{path}:{number}: expected '<start sample> <end sample> <text>'")
        return fields[2].strip()
    raise CorpusError(f"{path} is empty")


def read_timit_with_report(
    root: str | os.PathLike, split: str = "TRAIN", fold_39: bool = False, on_missing: OnMissing = "error"
) -> ReadReport:
    """Read one TIMIT split; see :func:`read_timit`. Also returns the skipped files."""
    root = require_dir(root, "TIMIT folder")
    if split.upper() not in ("TRAIN", "TEST"):
        raise ValueError(f"split must be 'TRAIN' or 'TEST', got {split!r}")
    split_dir = find_child(root, split.upper())
    if split_dir is None or not split_dir.is_dir():
        found = [p.name for p in list_children(root)]
        raise CorpusError(f"TIMIT folder {root} has no {split.upper()} folder (it holds {found})")
    log = SkipLog(on_missing)
    utterances = []
    for dialect_dir in list_children(split_dir, dirs=True):
        if not _DIALECT.fullmatch(dialect_dir.name):
            continue
        for speaker_dir in list_children(dialect_dir, dirs=True):
            speaker = speaker_dir.name.upper()
            files: dict[str, dict[str, Path]] = {}  # sentence -> suffix -> file
            for path in list_children(speaker_dir, dirs=False):
                if _SENTENCE.fullmatch(path.stem) and path.suffix.lower() in (".wav", *_PARTS):
                    files.setdefault(path.stem.upper(), {})[path.suffix.lower()] = path
            for sentence, parts in sorted(files.items()):
                utt_id = f"{speaker}_{sentence}"
                wav = parts.get(".wav")
                if wav is None:
                    log.missing(speaker_dir / f"{sentence}.WAV", "audio missing", utt_id)
                    continue
                absent = [suffix for suffix in _PARTS if suffix not in parts]
                if absent:
                    expected = wav.with_suffix(absent[0].upper() if wav.suffix.isupper() else absent[0])
                    log.missing(expected, "annotation file missing", utt_id)
                    continue
                info = log.probe_audio(wav, utt_id)
                if info is None:
                    continue
                phones = read_timit_segments(parts[".phn"])
                if fold_39:
                    phones = fold_timit_phones(phones, source=str(parts[".phn"]))
                utterances.append(
                    utterance_from_audio(
                        utt_id,
                        info,
                        speaker=speaker,
                        text=read_timit_text(parts[".txt"]),
                        phones=phones,
                        words=read_timit_segments(parts[".wrd"]),
                        labels={
                            "split": split.upper(),
                            "dialect_region": dialect_dir.name.upper(),
                            "gender": speaker[0],
                            "sentence_type": sentence[:2],
                        },
                    )
                )
    if not utterances and not log.skipped:
        raise CorpusError(f"no TIMIT utterances under {split_dir} (expected DR<n>/<SPEAKER>/<SENTENCE>.WAV)")
    return finish(f"timit-{split.upper()}", utterances, log)


def read_timit(
    root: str | os.PathLike, split: str = "TRAIN", fold_39: bool = False, on_missing: OnMissing = "error"
) -> Manifest:
    """Read the ``TRAIN`` or ``TEST`` part of TIMIT into a Manifest.

    ``root`` holds the ``TRAIN`` and ``TEST`` folders (any letter case; layout in the module
    docstring). The id is ``<SPEAKER>_<SENTENCE>`` (``MJSW0_SA1``): speaker codes are unique
    across the whole corpus, so ids are unique across both splits. Speaker is the speaker code,
    text the prompt from ``.TXT``, phones and words come from ``.PHN`` / ``.WRD`` in seconds
    (61 phones, or the 39 of Lee & Hon with ``fold_39``; ``h#``/``pau``/``epi`` mark silence),
    and labels hold ``split``, ``dialect_region`` (``DR1``), ``gender`` (``M``/``F``, the first
    letter of the speaker code) and ``sentence_type`` (``SA``/``SI``/``SX``). A sentence lacking
    its ``.WAV``, ``.PHN``, ``.WRD`` or ``.TXT``, or with unreadable audio, raises with
    ``on_missing="error"`` or is skipped and reported with ``"skip"``.
    """
    return read_timit_with_report(root, split, fold_39, on_missing).manifest
