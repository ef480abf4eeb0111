"""LibriSpeech (Panayotov et al., 2015), optionally with Montreal Forced Aligner TextGrids.

On-disk layout of one split (as unpacked from openslr.org/12)::

    <root>/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utterance>.flac
    <root>/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt   lines "<ID> <TRANSCRIPT>"

e.g. ``LibriSpeech/dev-clean/84/121123/84-121123-0000.flac``. MFA alignments (such as the
Lugosch et al. LibriSpeech alignments) are one ``<ID>.TextGrid`` per utterance with tiers
``words`` and ``phones``, either mirroring the corpus tree
(``<alignments>/<split>/<speaker>/<chapter>/<ID>.TextGrid``) or in one flat folder
(``<alignments>/<ID>.TextGrid``); both are searched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from speechrep.data.alignments import clean_mfa_alignment, get_tier, read_text_lines, read_textgrid
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest, Utterance

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

__all__ = [
    "chapter_transcripts",
    "read_librispeech",
    "read_librispeech_transcripts",
    "read_librispeech_with_report",
]

_UTTERANCE_ID = re.compile(r"\d+-\d+-\d+")


def read_librispeech_transcripts(path: str | os.PathLike) -> dict[str, str]:
    """Read a LibriSpeech ``<speaker>-<chapter>.trans.txt``: ``{utterance id: transcript}``.

    Each line is the utterance id, one space and the upper-case transcript
    (``84-121123-0000 GO DO YOU HEAR``). Lines without a transcript and repeated ids raise,
    naming the file and line.
    """
    path = Path(path)
    transcripts: dict[str, str] = {}
    for number, line in read_text_lines(path):
        fields = line.split(maxsplit=1)
        if not fields:
            continue
        if len(fields) < 2 or not _UTTERANCE_ID.fullmatch(fields[0]):
            raise CorpusError(f"{path}:{number}: expected '<speaker>-<chapter>-<utterance> <TRANSCRIPT>'")
        if fields[0] in transcripts:
            raise CorpusError(f"{path}:{number}: utterance {fields[0]} is transcribed twice")
        transcripts[fields[0]] = fields[1].strip()
    return transcripts


def _alignment_candidates(
    alignments: Path, split: str, speaker: str, chapter: str, utt_id: str
) -> list[Path]:
    name = f"{utt_id}.TextGrid"
    return [
        alignments / split / speaker / chapter / name,
        alignments / speaker / chapter / name,
        alignments / split / name,
        alignments / name,
    ]


def read_librispeech_with_report(
    root: str | os.PathLike,
    split: str,
    alignments: str | os.PathLike | None = None,
    limit: int | None = None,
    on_missing: OnMissing = "error",
) -> ReadReport:
    """Read one LibriSpeech split; see :func:`read_librispeech`. Also returns the skipped files."""
    split_dir = require_dir(Path(root) / split, "LibriSpeech split folder")
    align_dir = None if alignments is None else require_dir(alignments, "alignment folder")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of utterances, got {limit}")
    log = SkipLog(on_missing)

    # 1. pair every audio file with its transcript line (cheap: no audio is opened)
    candidates: list[tuple[str, Path, str, str, str]] = []  # id, flac, text, speaker, chapter
    for speaker_dir in list_children(split_dir, dirs=True):
        for chapter_dir in list_children(speaker_dir, dirs=True):
            speaker, chapter = speaker_dir.name, chapter_dir.name
            trans_path = chapter_dir / f"{speaker}-{chapter}.trans.txt"
            transcripts = read_librispeech_transcripts(trans_path) if trans_path.is_file() else {}
            flacs = {p.stem: p for p in list_children(chapter_dir, dirs=False) if p.suffix.lower() == ".flac"}
            for utt_id in sorted(flacs.keys() | transcripts.keys()):
                if utt_id not in flacs:
                    log.missing(chapter_dir / f"{utt_id}.flac", f"audio missing, transcribed in {trans_path}")
                elif utt_id not in transcripts:
                    reason = "no transcript line" if trans_path.is_file() else "transcript file missing"
                    log.missing(trans_path, reason, utt_id)
                else:
                    candidates.append((utt_id, flacs[utt_id], transcripts[utt_id], speaker, chapter))
    if not candidates and not log.skipped:
        raise CorpusError(
            f"no LibriSpeech utterances under {split_dir} (expected <speaker>/<chapter>/*.flac)"
        )

    # 2. alignments and audio headers, in id order, up to `limit` utterances
    utterances: list[Utterance] = []
    found_alignment = False
    for utt_id, flac, text, speaker, chapter in sorted(candidates):
        if limit is not None and len(utterances) >= limit:
            break
        phones, words = [], []
        if align_dir is not None:
            searched = _alignment_candidates(align_dir, split, speaker, chapter, utt_id)
            grid = next((p for p in searched if p.is_file()), None)
            if grid is None:
                log.missing(searched[0], f"no TextGrid (also looked for {searched[-1]})", utt_id)
                continue
            found_alignment = True
            tiers = read_textgrid(grid)
            phones, words = clean_mfa_alignment(
                get_tier(tiers, "phones", str(grid)), get_tier(tiers, "words", str(grid))
            )
        info = log.probe_audio(flac, utt_id)
        if info is None:
            continue
        utterances.append(
            utterance_from_audio(
                utt_id,
                info,
                speaker=speaker,
                text=text,
                phones=phones,
                words=words,
                labels={"chapter": chapter, "split": split},
            )
        )
    if align_dir is not None and not found_alignment and candidates:
        raise CorpusError(
            f"no TextGrid under {align_dir} for split {split!r} (looked for "
            f"<split>/<speaker>/<chapter>/<id>.TextGrid and <id>.TextGrid)"
        )
    return finish(f"librispeech-{split}", utterances, log)


def read_librispeech(
    root: str | os.PathLike,
    split: str,
    alignments: str | os.PathLike | None = None,
    limit: int | None = None,
    on_missing: OnMissing = "error",
) -> Manifest:
    """Read one LibriSpeech split (``dev-clean``, ``train-clean-100``, ...) into a Manifest.

    ``root`` is the ``LibriSpeech`` folder holding the split folders (layout in the module
    docstring). Ids are the file names (``84-121123-0000``); speaker is the speaker folder,
    text the transcript, and labels hold ``chapter`` and ``split``. With ``alignments`` (a folder
    of MFA TextGrids, nested or flat), phones and words are read from the ``phones`` and
    ``words`` tiers and cleaned by :func:`~speechrep.data.alignments.clean_mfa_alignment`
    (stress stripped, lower-cased, ``sil`` → ``SIL``, ``sp``/``spn``/empty dropped).

    ``limit`` keeps the first ``limit`` utterances by id (only their audio headers are read).
    An audio file without a transcript line, a transcript line without audio, a missing
    TextGrid or unreadable audio raises with ``on_missing="error"``; with ``"skip"`` the
    utterance is left out and reported (see :func:`read_librispeech_with_report`).
    """
    return read_librispeech_with_report(root, split, alignments, limit, on_missing).manifest


def chapter_transcripts(chapter_dir: Path, speaker: str, chapter: str) -> dict[str, str]:
    """Transcripts of one chapter folder, or ``{}`` when it has no ``.trans.txt`` file."""
    path = find_child(chapter_dir, f"{speaker}-{chapter}.trans.txt")
    return read_librispeech_transcripts(path) if path is not None else {}
