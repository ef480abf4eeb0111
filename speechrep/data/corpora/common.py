"""What every corpus reader shares: the skipped-file report, the missing-file policy, file lookup.

**Skipped files.** A reader never dies half-way over one bad utterance unless asked to: each
problem is either raised at once (``on_missing="error"``) or recorded as a :class:`SkippedFile`
(``on_missing="skip"``). Each reader ``read_x(...) -> Manifest`` has a twin
``read_x_with_report(...) -> ReadReport`` that also returns the skipped list; both log one
warning naming how many files were skipped and the first few, so skipping is never silent.

**File lookup.** Corpora are copied between file systems that change the case of names (TIMIT
ships as ``TRAIN/DR1/...`` or ``train/dr1/...``, ``.WAV`` or ``.wav``) and macOS archives add
``._*`` companions; :func:`find_child` and :func:`list_children` handle both.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from speechrep.data.audio import AudioInfo, audio_info
from speechrep.data.errors import AudioError, CorpusError
from speechrep.data.manifest import Manifest, Utterance

logger = logging.getLogger("speechrep.data.corpora")

#: What a reader does when part of an utterance (audio, transcript, labels) is missing or unreadable.
OnMissing = Literal["error", "skip"]

#: How many skipped files the warning names.
SHOWN_SKIPPED = 5


@dataclass(frozen=True)
class SkippedFile:
    """A file a reader left out, and why (``utterance_id`` when one is known)."""

    path: str
    reason: str
    utterance_id: str | None = None

    def __str__(self) -> str:
        who = f"{self.utterance_id}: " if self.utterance_id else ""
        return f"{who}{self.path} ({self.reason})"


@dataclass
class ReadReport:
    """A reader's result: the manifest and every file it skipped."""

    manifest: Manifest
    skipped: list[SkippedFile] = field(default_factory=list)

    def summary(self, shown: int = SHOWN_SKIPPED) -> str:
        """One line: utterances read, files skipped and the first ``shown`` of them."""
        text = f"{self.manifest.name}: {len(self.manifest)} utterance(s) read"
        if self.skipped:
            first = "; ".join(str(s) for s in self.skipped[:shown])
            more = f"; ... and {len(self.skipped) - shown} more" if len(self.skipped) > shown else ""
            text += f", {len(self.skipped)} file(s) skipped: {first}{more}"
        return text


class SkipLog:
    """Collects skipped files under a missing-file policy (``"error"`` raises at once)."""

    def __init__(self, on_missing: OnMissing = "error") -> None:
        if on_missing not in ("error", "skip"):
            raise ValueError(f"on_missing must be 'error' or 'skip', got {on_missing!r}")
        self.on_missing = on_missing
        self.skipped: list[SkippedFile] = []

    def missing(self, path: str | os.PathLike, reason: str, utterance_id: str | None = None) -> None:
        """A required part is missing or unreadable: raise (policy "error") or record it."""
        item = SkippedFile(str(path), reason, utterance_id)
        if self.on_missing == "error":
            raise CorpusError(f"{item}; pass on_missing='skip' to leave such utterances out")
        self.skipped.append(item)

    def skip(self, path: str | os.PathLike, reason: str, utterance_id: str | None = None) -> None:
        """Record a file that is never part of the corpus proper (e.g. a name outside the pattern)."""
        self.skipped.append(SkippedFile(str(path), reason, utterance_id))

    def probe_audio(self, path: str | os.PathLike, utterance_id: str) -> AudioInfo | None:
        """The audio header, or ``None`` after recording an unreadable/missing file."""
        try:
            return audio_info(path)
        except AudioError as error:
            self.missing(path, f"audio unreadable: {error}", utterance_id)
            return None


def finish(name: str, utterances: Iterable[Utterance], log: SkipLog) -> ReadReport:
    """Sort utterances by id into a manifest, refuse duplicate ids, and log what was skipped."""
    ordered = sorted(utterances, key=lambda u: u.id)
    for previous, current in itertools.pairwise(ordered):
        if previous.id == current.id:
            raise CorpusError(
                f"{name}: utterance id {current.id!r} is given by both {previous.audio_path} "
                f"and {current.audio_path}"
            )
    report = ReadReport(Manifest(ordered, name=name), list(log.skipped))
    if report.skipped:
        logger.warning(report.summary())
    else:
        logger.info(report.summary())
    return report


def require_dir(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path, or a :class:`CorpusError` saying which folder is missing."""
    path = Path(path)
    if not path.is_dir():
        raise CorpusError(f"{what} {path} is not a folder")
    return path


def list_children(folder: Path, dirs: bool | None = None) -> list[Path]:
    """Entries of ``folder`` sorted by name, without hidden ones (``.DS_Store``, macOS ``._*``).

    ``dirs=True`` keeps only folders, ``False`` only files, ``None`` both.
    """
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if dirs is not None:
        entries = [p for p in entries if p.is_dir() == dirs]
    return sorted(entries, key=lambda p: p.name)


def find_child(folder: Path, name: str) -> Path | None:
    """The entry of ``folder`` called ``name``, matched exactly or else ignoring case."""
    exact = folder / name
    if exact.exists():
        return exact
    if not folder.is_dir():
        return None
    lower = name.lower()
    matches = [p for p in list_children(folder) if p.name.lower() == lower]
    return matches[0] if matches else None


def utterance_from_audio(utterance_id: str, info: AudioInfo, **fields) -> Utterance:
    """An utterance whose audio fields (absolute path, sample rate, duration) come from its header."""
    return Utterance(
        id=utterance_id,
        audio_path=str(Path(info.path).resolve()),
        sample_rate=info.sample_rate,
        duration=info.duration,
        **fields,
    )
