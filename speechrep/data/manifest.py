"""The Manifest: one record per utterance, shared by every stage of speechrep.

Every corpus reader produces a :class:`Manifest`; every consumer (feature extraction, trainers,
analyses) reads only it. On disk it is JSON Lines, one :class:`Utterance` per line, with audio
paths stored relative to the manifest file where possible so a corpus folder can be moved.

A record holds the id, audio path, sample rate, duration, speaker, text, phone and word
alignments (label, start, end in seconds) and any other labels (emotion, gender, split, ...).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speechrep.data.errors import ManifestError
from speechrep.utils.io import atomic_write_text

#: Tolerance (seconds) for alignments that end marginally past the audio (rounding in the
#: alignment tools: MFA writes times to 10 ms, TIMIT sample indices can exceed the file by a few).
ALIGNMENT_TOLERANCE_S = 0.02


@dataclass(frozen=True)
class Segment:
    """A labelled time span of an utterance, in seconds."""

    label: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_list(self) -> list:
        return [self.label, round(self.start, 6), round(self.end, 6)]

    @classmethod
    def from_any(cls, value: Any) -> Segment:
        if isinstance(value, Segment):
            return value
        if isinstance(value, dict):
            return cls(str(value["label"]), float(value["start"]), float(value["end"]))
        label, start, end = value
        return cls(str(label), float(start), float(end))


@dataclass
class Utterance:
    """One utterance: where its audio is and everything known about it."""

    id: str
    audio_path: str
    sample_rate: int
    duration: float
    speaker: str | None = None
    text: str | None = None
    phones: list[Segment] = field(default_factory=list)
    words: list[Segment] = field(default_factory=list)
    labels: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.phones = [Segment.from_any(s) for s in self.phones]
        self.words = [Segment.from_any(s) for s in self.words]
        self.sample_rate = int(self.sample_rate)
        self.duration = float(self.duration)

    def segments(self, kind: str) -> list[Segment]:
        """The alignment of one kind: ``"phone"`` or ``"word"``."""
        if kind == "phone":
            return self.phones
        if kind == "word":
            return self.words
        raise ValueError(f"unknown segment kind {kind!r}; expected 'phone' or 'word'")

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        path = self.audio_path
        if root is not None and os.path.isabs(path):
            try:
                path = os.path.relpath(path, root)
            except ValueError:  # different drive on Windows
                pass
        record: dict[str, Any] = {
            "id": self.id,
            "audio_path": path,
            "sample_rate": self.sample_rate,
            "duration": round(self.duration, 6),
            "speaker": self.speaker,
            "text": self.text,
            "phones": [s.to_list() for s in self.phones],
            "words": [s.to_list() for s in self.words],
            "labels": self.labels,
        }
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any], root: Path | None = None, where: str = "") -> Utterance:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(record) - names
        missing = {"id", "audio_path", "sample_rate", "duration"} - set(record)
        if missing or unknown:
            problem = f"missing fields {sorted(missing)}" if missing else f"unknown fields {sorted(unknown)}"
            raise ManifestError(f"{where}: {problem}")
        record = dict(record)
        path = str(record["audio_path"])
        if root is not None and not os.path.isabs(path):
            record["audio_path"] = str((root / path).resolve())
        try:
            return cls(**record)
        except (TypeError, ValueError, KeyError) as error:
            raise ManifestError(f"{where}: {error}") from error


class Manifest(Sequence[Utterance]):
    """An ordered collection of utterances, addressable by index or id."""

    def __init__(self, utterances: Iterable[Utterance] = (), name: str = "") -> None:
        self.utterances: list[Utterance] = list(utterances)
        self.name = name
        self._by_id: dict[str, int] = {}
        for i, utt in enumerate(self.utterances):
            if utt.id in self._by_id:
                raise ManifestError(f"duplicate utterance id {utt.id!r} in manifest {name!r}")
            self._by_id[utt.id] = i

    # -- sequence protocol -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            try:
                return self.utterances[self._by_id[key]]
            except KeyError:
                raise KeyError(f"no utterance {key!r} in manifest {self.name!r}") from None
        if isinstance(key, slice):
            return Manifest(self.utterances[key], name=self.name)
        return self.utterances[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key in self._by_id
        return key in self.utterances

    def __repr__(self) -> str:
        return f"Manifest(name={self.name!r}, utterances={len(self)}, hours={self.total_duration / 3600:.3f})"

    @property
    def ids(self) -> list[str]:
        return [u.id for u in self.utterances]

    @property
    def total_duration(self) -> float:
        return sum(u.duration for u in self.utterances)

    @property
    def speakers(self) -> list[str]:
        return sorted({u.speaker for u in self.utterances if u.speaker is not None})

    # -- I/O ---------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON Lines atomically; audio paths are stored relative to the file's folder."""
        path = Path(path)
        root = path.resolve().parent
        lines = [json.dumps(u.to_dict(root), ensure_ascii=False) for u in self.utterances]
        atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Manifest:
        """Read a JSON Lines manifest; every error names the file and line."""
        path = Path(path)
        if not path.is_file():
            raise ManifestError(f"manifest {path} does not exist")
        root = path.resolve().parent
        utterances = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ManifestError(f"{where}: not valid JSON ({error.msg})") from error
                utterances.append(Utterance.from_dict(record, root=root, where=where))
        return cls(utterances, name=path.stem)

    def content_hash(self) -> str:
        """SHA-256 of the records (with absolute audio paths): the manifest's part of cache keys."""
        digest = hashlib.sha256()
        for utt in self.utterances:
            digest.update(json.dumps(utt.to_dict(), sort_keys=True).encode())
            digest.update(b"\n")
        return digest.hexdigest()

    # -- checks ------------------------------------------------------------------------------------
    def validate(self, check_audio: bool = False) -> list[str]:
        """Return every problem found (empty list: valid). ``check_audio`` also opens the files.

        Checks: positive duration and sample rate; segments with start < end inside the audio
        (within :data:`ALIGNMENT_TOLERANCE_S`); phones sorted and non-overlapping; every phone
        inside some word when words are given.
        """
        from speechrep.data.audio import audio_info

        problems: list[str] = []
        for utt in self.utterances:
            problems.extend(validate_utterance(utt))
            if check_audio:
                try:
                    info = audio_info(utt.audio_path)
                except Exception as error:
                    problems.append(f"{utt.id}: {error}")
                    continue
                if abs(info.duration - utt.duration) > ALIGNMENT_TOLERANCE_S:
                    problems.append(
                        f"{utt.id}: duration field {utt.duration:.3f}s but {utt.audio_path} "
                        f"holds {info.duration:.3f}s"
                    )
        return problems

    def check(self, check_audio: bool = False) -> Manifest:
        """Raise :class:`ManifestError` listing the first problems, else return self."""
        problems = self.validate(check_audio=check_audio)
        if problems:
            shown = "\n  ".join(problems[:20])
            more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise ManifestError(f"manifest {self.name!r} has {len(problems)} problem(s):\n  {shown}{more}")
        return self

    # -- selection ---------------------------------------------------------------------------------
    def filter(self, predicate: Callable[[Utterance], bool]) -> Manifest:
        return Manifest([u for u in self.utterances if predicate(u)], name=self.name)

    def select(self, ids: Iterable[str]) -> Manifest:
        """Utterances with the given ids, in the given order (unknown ids raise KeyError)."""
        return Manifest([self[i] for i in ids], name=self.name)

    def sample(self, n: int, seed: int) -> Manifest:
        """``n`` utterances drawn without replacement with ``seed``, kept in manifest order."""
        if n > len(self):
            raise ValueError(f"cannot sample {n} utterances from a manifest of {len(self)}")
        chosen = set(random.Random(seed).sample(range(len(self)), n))
        return Manifest([u for i, u in enumerate(self.utterances) if i in chosen], name=self.name)

    def split(
        self, fractions: dict[str, float], seed: int, group_by: str | None = "speaker"
    ) -> dict[str, Manifest]:
        """Split into named parts by ``fractions`` (summing to 1), reproducibly for ``seed``.

        With ``group_by="speaker"`` (or any label name) whole groups go to one part, so no
        speaker appears in two parts; ``None`` splits utterances individually.
        """
        total = sum(fractions.values())
        if abs(total - 1.0) > 1e-6 or any(f < 0 for f in fractions.values()):
            raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")

        def group_of(utt: Utterance) -> str:
            if group_by is None:
                return utt.id
            if group_by == "speaker":
                if utt.speaker is None:
                    raise ManifestError(f"{utt.id}: no speaker, cannot split by speaker")
                return utt.speaker
            if group_by not in utt.labels:
                raise ManifestError(f"{utt.id}: no label {group_by!r} to split by")
            return str(utt.labels[group_by])

        groups = sorted({group_of(u) for u in self.utterances})
        random.Random(seed).shuffle(groups)
        names = list(fractions)
        bounds, acc = [], 0.0
        for name in names:
            acc += fractions[name]
            bounds.append(round(acc * len(groups)))
        assignment: dict[str, str] = {}
        start = 0
        for name, stop in zip(names, bounds):
            for g in groups[start:stop]:
                assignment[g] = name
            start = stop
        parts = {name: [] for name in names}
        for utt in self.utterances:
            parts[assignment[group_of(utt)]].append(utt)
        return {name: Manifest(utts, name=f"{self.name}-{name}") for name, utts in parts.items()}

    def __add__(self, other: Manifest) -> Manifest:
        return Manifest(self.utterances + other.utterances, name=self.name or other.name)


def validate_utterance(utt: Utterance) -> list[str]:
    """Problems with one record's fields and alignments (no file access)."""
    problems = []
    if not utt.id:
        problems.append(f"<no id> ({utt.audio_path}): empty id")
    if utt.sample_rate <= 0:
        problems.append(f"{utt.id}: sample_rate must be positive, got {utt.sample_rate}")
    if not utt.duration > 0:
        problems.append(f"{utt.id}: duration must be positive, got {utt.duration}")
    limit = utt.duration + ALIGNMENT_TOLERANCE_S
    for kind, segments in (("phones", utt.phones), ("words", utt.words)):
        previous_end = 0.0
        for i, seg in enumerate(segments):
            where = f"{utt.id}: {kind}[{i}] {seg.label!r} [{seg.start:.3f}, {seg.end:.3f}]"
            if not seg.start < seg.end:
                problems.append(f"{where}: start must be before end")
            if seg.start < 0 or seg.end > limit:
                problems.append(f"{where}: outside the audio (0 to {utt.duration:.3f}s)")
            if seg.start < previous_end - 1e-6:
                problems.append(f"{where}: overlaps or precedes the previous segment")
            previous_end = seg.end
    if utt.words:
        for i, phone in enumerate(utt.phones):
            inside = any(w.start - 1e-6 <= phone.start and phone.end <= w.end + 1e-6 for w in utt.words)
            if not inside and phone.label not in SILENCE_LABELS:
                problems.append(
                    f"{utt.id}: phones[{i}] {phone.label!r} [{phone.start:.3f}, {phone.end:.3f}] "
                    "lies in no word"
                )
    return problems


#: Labels that mark silence or noise in common alignments; they may lie outside words.
SILENCE_LABELS = frozenset({"", "sil", "SIL", "sp", "spn", "h#", "pau", "epi", "<sil>"})
