"""Mozilla Common Voice (Ardila et al., 2020), one language of one release.

On-disk layout (as unpacked from commonvoice.mozilla.org)::

    <root>/clips/common_voice_en_17264345.mp3       the clips (MP3; converted WAV/FLAC also work)
    <root>/validated.tsv                            tab-separated tables with a header line:
    <root>/train.tsv, dev.tsv, test.tsv, ...        client_id path sentence up_votes down_votes
                                                    age gender accent(s) locale [segment ...]

Older releases name the accent column ``accent``, newer ones ``accents`` and add
``sentence_id``, ``variant`` and ``segment``; only ``client_id``, ``path`` and ``sentence`` are
required. Sentences contain quotation marks, so the table is read with quoting off (a quote is
an ordinary character, and a tab always separates fields).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest, Utterance

from .common import OnMissing, ReadReport, SkipLog, finish, require_dir, utterance_from_audio

__all__ = ["COMMONVOICE_LABEL_COLUMNS", "read_commonvoice", "read_commonvoice_with_report"]

REQUIRED_COLUMNS = ("client_id", "path", "sentence")
#: Table columns copied into ``labels`` (when present and non-empty), and their label names:
#: ``accent`` (old releases) and ``accents`` (new) both become ``labels["accent"]``.
COMMONVOICE_LABEL_COLUMNS = {
    "age": "age",
    "gender": "gender",
    "accent": "accent",
    "accents": "accent",
    "variant": "variant",
    "locale": "locale",
}
_AUDIO_SUFFIXES = (".mp3", ".wav", ".flac")


def _find_clip(clips: Path, name: str) -> Path | None:
    """``clips/<name>``, else the same clip under another audio suffix (a converted copy)."""
    exact = clips / name
    if exact.is_file():
        return exact
    stem = Path(name).stem if Path(name).suffix.lower() in _AUDIO_SUFFIXES else name
    return next((p for s in _AUDIO_SUFFIXES if (p := clips / f"{stem}{s}").is_file()), None)


def _read_table(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of a tab-separated table, header first; quoting is off."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            for row in reader:
                yield reader.line_num, row
    except UnicodeDecodeError as error:
        raise CorpusError(f"{path}: not valid UTF-8 text ({error.reason})") from error


def read_commonvoice_with_report(
    root: str | os.PathLike,
    table: str = "validated.tsv",
    limit: int | None = None,
    on_missing: OnMissing = "skip",
) -> ReadReport:
    """Read a Common Voice table; see :func:`read_commonvoice`. Also returns the skipped clips."""
    root = require_dir(root, "Common Voice folder")
    clips = require_dir(root / "clips", "Common Voice clips folder")
    table_path = root / table
    if not table_path.is_file():
        raise CorpusError(f"Common Voice table {table_path} does not exist")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of utterances, got {limit}")
    log = SkipLog(on_missing)
    utterances: list[Utterance] = []
    seen: dict[str, int] = {}
    rows = _read_table(table_path)
    _, header = next(rows, (1, None))
    if header is None:
        raise CorpusError(f"{table_path} is empty (expected a header line)")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CorpusError(f"{table_path}:1: missing column(s) {missing}; the header is {header}")
    column = {name: i for i, name in enumerate(header)}
    for line, row in rows:
        if limit is not None and len(utterances) >= limit:
            break
        where = f"{table_path}:{line}"
        if not any(field.strip() for field in row):
            continue
        if len(row) != len(header):
            raise CorpusError(f"{where}: {len(row)} tab-separated fields, but the header has {len(header)}")
        name = row[column["path"]].strip()
        if not name:
            raise CorpusError(f"{where}: empty 'path' field")
        utt_id = Path(name).stem if Path(name).suffix.lower() in _AUDIO_SUFFIXES else name
        if utt_id in seen:
            log.skip(table_path, f"clip listed again on line {line} (first on line {seen[utt_id]})", utt_id)
            continue
        seen[utt_id] = line
        clip = _find_clip(clips, name)
        if clip is None:
            log.missing(clips / name, f"clip missing (listed in {where})", utt_id)
            continue
        info = log.probe_audio(clip, utt_id)
        if info is None:
            continue
        labels = {}
        for col, label in COMMONVOICE_LABEL_COLUMNS.items():
            value = row[column[col]].strip() if col in column else ""
            if value:
                labels[label] = value
        utterances.append(
            utterance_from_audio(
                utt_id,
                info,
                speaker=row[column["client_id"]].strip() or None,
                text=row[column["sentence"]].strip(),
                labels=labels,
            )
        )
    rows.close()
    return finish(f"commonvoice-{Path(table).stem}", utterances, log)


def read_commonvoice(
    root: str | os.PathLike,
    table: str = "validated.tsv",
    limit: int | None = None,
    on_missing: OnMissing = "skip",
) -> Manifest:
    """Read the clips listed in one Common Voice table (``validated.tsv``, ``train.tsv``, ...).

    ``root`` is the language folder holding ``clips/`` and the tables (layout in the module
    docstring). The id is the clip name without suffix (``common_voice_en_17264345``), speaker
    the ``client_id``, text the ``sentence``, and labels hold ``age``, ``gender``, ``accent``,
    ``variant`` and ``locale`` where the table has them non-empty. Durations come from the audio
    headers (MP3 needs libsndfile >= 1.1). ``limit`` stops after that many utterances, in table
    order. A clip that is missing or unreadable is skipped and reported by default (a warning
    names the count and the first few; :func:`read_commonvoice_with_report` returns the list);
    ``on_missing="error"`` raises instead. A table without the ``client_id``, ``path`` or
    ``sentence`` column, or a row with the wrong number of fields, raises naming the line.
    """
    return read_commonvoice_with_report(root, table, limit, on_missing).manifest
