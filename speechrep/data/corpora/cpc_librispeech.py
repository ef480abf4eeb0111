"""LibriSpeech train-clean-100 as split and labelled for CPC (van den Oord et al., 2018).

The CPC / GIM / SIM experiments use LibriSpeech's 100-hour training set with their own
train/test split and frame-level phone labels (made by forced alignment), distributed as::

    <split_dir>/train_split.txt                one utterance id per line (19-198-0000)
    <split_dir>/test_split.txt
    <split_dir>/converted_aligned_phones.txt   "<id> <label> <label> ...": one integer phone
                                               class (41 classes) per 10 ms frame

and the audio is the ordinary LibriSpeech tree
``<root>/train-clean-100/<speaker>/<chapter>/<id>.flac`` (with its ``.trans.txt`` files, which
give the text when present). The frame labels become run-length phone segments labelled by
the class number as a string; :func:`~speechrep.data.alignments.segments_to_frames` gives
the frame labels back.
"""

from __future__ import annotations

import os
from pathlib import Path

from speechrep.data.alignments import (
    CPC_FRAME_SHIFT,
    frames_to_segments,
    read_cpc_frame_labels,
    read_text_lines,
)
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest

from .common import OnMissing, ReadReport, SkipLog, finish, require_dir, utterance_from_audio
from .librispeech import chapter_transcripts

__all__ = ["CPC_SPLITS", "read_cpc_librispeech100", "read_cpc_librispeech100_with_report", "read_cpc_split"]

CPC_SPLITS = ("train", "test")
PHONE_LABELS_FILE = "converted_aligned_phones.txt"


def read_cpc_split(path: str | os.PathLike) -> list[str]:
    """Utterance ids of a CPC split file (``train_split.txt``: one ``spk-chapter-utt`` per line)."""
    path = Path(path)
    ids: list[str] = []
    seen: dict[str, int] = {}
    for number, line in read_text_lines(path):
        utt_id = line.strip()
        if not utt_id:
            continue
        parts = utt_id.split("-")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise CorpusError(
                f"{path}:{number}: expected an utterance id '<speaker>-<chapter>-<n>', found {utt_id!r}"
            )
        if utt_id in seen:
            raise CorpusError(
                f"{path}:{number}: utterance {utt_id} is listed twice (first on line {seen[utt_id]})"
            )
        seen[utt_id] = number
        ids.append(utt_id)
    if not ids:
        raise CorpusError(f"{path} lists no utterance ids")
    return ids


def read_cpc_librispeech100_with_report(
    root: str | os.PathLike,
    split_dir: str | os.PathLike,
    split: str = "train",
    phone_labels: bool = True,
    on_missing: OnMissing = "error",
) -> ReadReport:
    """Read the CPC LibriSpeech-100 split; see :func:`read_cpc_librispeech100`. Also returns the
    skipped files."""
    if split not in CPC_SPLITS:
        raise ValueError(f"split must be one of {CPC_SPLITS}, got {split!r}")
    audio_dir = require_dir(Path(root) / "train-clean-100", "LibriSpeech train-clean-100 folder")
    split_dir = require_dir(split_dir, "CPC split folder")
    ids = read_cpc_split(split_dir / f"{split}_split.txt")
    labels_path = split_dir / PHONE_LABELS_FILE
    frame_labels = read_cpc_frame_labels(labels_path, ids=ids) if phone_labels else {}
    log = SkipLog(on_missing)
    transcripts: dict[tuple[str, str], dict[str, str]] = {}
    utterances = []
    for utt_id in ids:
        speaker, chapter, _ = utt_id.split("-")
        flac = audio_dir / speaker / chapter / f"{utt_id}.flac"
        if not flac.is_file():
            log.missing(flac, "audio missing", utt_id)
            continue
        if phone_labels and utt_id not in frame_labels:
            log.missing(labels_path, "no frame labels", utt_id)
            continue
        info = log.probe_audio(flac, utt_id)
        if info is None:
            continue
        if (speaker, chapter) not in transcripts:
            transcripts[speaker, chapter] = chapter_transcripts(flac.parent, speaker, chapter)
        utterances.append(
            utterance_from_audio(
                utt_id,
                info,
                speaker=speaker,
                text=transcripts[speaker, chapter].get(utt_id),
                phones=frames_to_segments(frame_labels[utt_id], CPC_FRAME_SHIFT) if phone_labels else [],
                labels={"chapter": chapter, "split": split},
            )
        )
    return finish(f"cpc-librispeech100-{split}", utterances, log)


def read_cpc_librispeech100(
    root: str | os.PathLike,
    split_dir: str | os.PathLike,
    split: str = "train",
    phone_labels: bool = True,
    on_missing: OnMissing = "error",
) -> Manifest:
    """Read the ``train`` or ``test`` part of CPC's LibriSpeech-100 split into a Manifest.

    ``root`` holds ``train-clean-100/``; ``split_dir`` holds ``{train,test}_split.txt`` and
    ``converted_aligned_phones.txt`` (layout in the module docstring). Ids are LibriSpeech ids,
    speaker the speaker number, text the LibriSpeech transcript when the chapter's
    ``.trans.txt`` is there (else ``None``), and ``labels["split"]`` the CPC split. With
    ``phone_labels``, phones are the run-length segments of the 10 ms frame labels (label: the
    class number as a string). A listed id without audio or without frame labels raises a
    :class:`CorpusError` naming the id and file (``on_missing="error"``) or is skipped and
    reported (``"skip"``; see :func:`read_cpc_librispeech100_with_report`).
    """
    return read_cpc_librispeech100_with_report(root, split_dir, split, phone_labels, on_missing).manifest
