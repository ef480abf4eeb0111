"""The sampling step of the layer-wise analysis recipe, seeded and written as small TSV files.

Frame-level analyses use a random subset of utterances (:func:`sample_utterances`); phone- and
word-level analyses use up to ``max_per_label`` instances of each label (:func:`sample_segments`).
The lists are written to small TSV files (kept under ``data_samples/`` so a sample can be committed
and reused, as the papers average over fixed sample sets) and read back by the extraction stage.

Differences from the original recipe, on purpose: every draw is seeded; each label's instances are
drawn with their own generator derived from ``(seed, label)``, so one label's sample does not
change when other labels are added or removed, and each label's cap is applied on its own (the
original shrank the caps of later tokens after a rare one).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechrep.data.errors import ManifestError
from speechrep.data.manifest import SILENCE_LABELS, Manifest
from speechrep.utils.io import atomic_write_text

#: Labels never sampled by default: silences and noise marks of common alignments, plus the
#: unknown-word token (its instances are unrelated words).
DEFAULT_EXCLUDE: tuple[str, ...] = (*sorted(SILENCE_LABELS), "<unk>", "<UNK>")

SEGMENT_COLUMNS = ("utt_id", "index", "label", "start", "end")


@dataclass(frozen=True)
class SegmentRef:
    """One chosen segment: the utterance, its position in ``utt.phones``/``utt.words``, and copies of
    its label and times (seconds) so a list can be read without the manifest."""

    utt_id: str
    index: int
    label: str
    start: float
    end: float


def sample_utterances(manifest: Manifest, n: int, seed: int) -> list[str]:
    """Ids of ``n`` utterances drawn without replacement with ``seed``, in manifest order."""
    if not 1 <= n <= len(manifest):
        raise ValueError(f"cannot sample {n} utterances from manifest {manifest.name!r} of {len(manifest)}")
    return manifest.sample(n, seed).ids


def sample_segments(
    manifest: Manifest,
    kind: str = "phone",
    max_per_label: int | None = 200,
    min_per_label: int = 1,
    labels: Iterable[str] | None = None,
    top_k_labels: int | None = None,
    exclude: Iterable[str] | None = DEFAULT_EXCLUDE,
    seed: int = 0,
) -> list[SegmentRef]:
    """Choose up to ``max_per_label`` instances of each phone or word label.

    Args:
        manifest: the corpus; its ``phones`` (``kind="phone"``) or ``words`` (``"word"``) are used.
        kind: ``"phone"`` or ``"word"``.
        max_per_label: cap per label (instances drawn without replacement); ``None`` keeps all.
        min_per_label: labels with fewer instances are left out (too few to estimate anything).
        labels: restrict to these labels (a requested label that does not occur is an error).
        top_k_labels: keep only the ``k`` most frequent labels (ties broken alphabetically), after
            ``exclude``, ``labels`` and ``min_per_label``; the recipe uses the 500 most frequent words.
        exclude: labels never chosen (default :data:`DEFAULT_EXCLUDE`: silences, ``<unk>``).
        seed: each label's draw uses a generator seeded with ``(seed, label)``.

    Returns:
        The chosen segments in manifest order (by utterance, then position), the order in which
        the extraction stage reads audio.
    """
    if kind not in ("phone", "word"):
        raise ValueError(f"unknown segment kind {kind!r}; expected 'phone' or 'word'")
    if max_per_label is not None and max_per_label < 1:
        raise ValueError(f"max_per_label must be positive or None, got {max_per_label}")
    if min_per_label < 1:
        raise ValueError(f"min_per_label must be at least 1, got {min_per_label}")
    if top_k_labels is not None and top_k_labels < 1:
        raise ValueError(f"top_k_labels must be positive or None, got {top_k_labels}")
    excluded = set(exclude or ())
    wanted = set(labels) if labels is not None else None

    occurrences: dict[str, list[tuple[int, int]]] = {}  # label -> (utterance position, index)
    for position, utt in enumerate(manifest):
        for index, segment in enumerate(utt.segments(kind)):
            if segment.label in excluded or (wanted is not None and segment.label not in wanted):
                continue
            occurrences.setdefault(segment.label, []).append((position, index))
    if wanted is not None:
        missing = sorted(wanted - set(occurrences))
        if missing:
            raise ManifestError(
                f"manifest {manifest.name!r} has no {kind} segments labelled {missing[:10]}"
                + (" (they are also excluded)" if set(missing) & excluded else "")
            )

    counts = Counter(
        {label: len(found) for label, found in occurrences.items() if len(found) >= min_per_label}
    )
    chosen_labels = sorted(counts, key=lambda label: (-counts[label], label))
    if top_k_labels is not None:
        chosen_labels = chosen_labels[:top_k_labels]

    picked: list[tuple[int, int]] = []
    for label in chosen_labels:
        found = occurrences[label]
        if max_per_label is None or len(found) <= max_per_label:
            picked.extend(found)
            continue
        rng = np.random.default_rng(_label_seed(seed, label))
        picked.extend(found[i] for i in rng.choice(len(found), size=max_per_label, replace=False))
    picked.sort()

    refs = []
    for position, index in picked:
        utt = manifest[position]
        segment = utt.segments(kind)[index]
        refs.append(SegmentRef(utt.id, index, segment.label, segment.start, segment.end))
    return refs


def _label_seed(seed: int, label: str) -> list[int]:
    """Entropy for one label's generator: the seed plus a stable (not ``hash()``-salted) label digest."""
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    return [int(seed) % 2**63, int.from_bytes(digest[:8], "little")]


# -- files ---------------------------------------------------------------------------------------------
def write_segment_list(path: str | os.PathLike, segments: Sequence[SegmentRef]) -> Path:
    """Write ``utt_id\\tindex\\tlabel\\tstart\\tend`` lines (with that header) atomically.

    Times are written with ``repr`` so they read back as the identical floats.
    """
    path = Path(path)
    lines = ["\t".join(SEGMENT_COLUMNS)]
    for ref in segments:
        for name in ("utt_id", "label"):
            value = getattr(ref, name)
            if any(ch in value for ch in "\t\r\n"):
                raise ValueError(f"cannot write segment {ref}: its {name} holds a tab or newline")
        lines.append(f"{ref.utt_id}\t{int(ref.index)}\t{ref.label}\t{float(ref.start)!r}\t{float(ref.end)!r}")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def read_segment_list(path: str | os.PathLike) -> list[SegmentRef]:
    """Read a file written by :func:`write_segment_list` (the header line is optional)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"segment list {path} does not exist")
    refs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or (number == 1 and tuple(line.split("\t")) == SEGMENT_COLUMNS):
            continue
        fields = line.split("\t")
        if len(fields) != len(SEGMENT_COLUMNS):
            raise ManifestError(
                f"{path}:{number}: expected {len(SEGMENT_COLUMNS)} tab-separated fields "
                f"({', '.join(SEGMENT_COLUMNS)}), got {len(fields)}"
            )
        utt_id, index, label, start, end = fields
        try:
            ref = SegmentRef(utt_id, int(index), label, float(start), float(end))
        except ValueError as error:
            raise ManifestError(f"{path}:{number}: {error}") from error
        if not ref.start < ref.end or ref.index < 0:
            raise ManifestError(f"{path}:{number}: need index >= 0 and start < end, got {line!r}")
        refs.append(ref)
    return refs


def write_utterance_list(path: str | os.PathLike, ids: Sequence[str]) -> Path:
    """Write utterance ids, one per line under a ``utt_id`` header, atomically."""
    bad = [i for i in ids if not i or any(ch in i for ch in "\t\r\n")]
    if bad:
        raise ValueError(f"cannot write utterance ids with tabs, newlines or empty: {bad[:5]}")
    atomic_write_text(path, "\n".join(["utt_id", *ids]) + "\n")
    return Path(path)


def read_utterance_list(path: str | os.PathLike) -> list[str]:
    """Read a file written by :func:`write_utterance_list` (header optional; extra columns ignored)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"utterance list {path} does not exist")
    ids = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        first = line.split("\t", 1)[0].strip()
        if first and not (number == 1 and first == "utt_id"):
            ids.append(first)
    return ids


def check_segments(manifest: Manifest, segments: Sequence[SegmentRef], kind: str) -> list[str]:
    """Problems of a segment list against a manifest: unknown utterances, positions out of range,
    or label/times that no longer match (the manifest changed since the list was drawn)."""
    problems = []
    for ref in segments:
        if ref.utt_id not in manifest:
            problems.append(f"{ref.utt_id}: not in manifest {manifest.name!r}")
            continue
        found = manifest[ref.utt_id].segments(kind)
        if not 0 <= ref.index < len(found):
            problems.append(f"{ref.utt_id}: {kind} index {ref.index} out of range (0..{len(found) - 1})")
            continue
        segment = found[ref.index]
        if (
            segment.label != ref.label
            or abs(segment.start - ref.start) > 1e-5
            or abs(segment.end - ref.end) > 1e-5
        ):
            problems.append(
                f"{ref.utt_id}: {kind}[{ref.index}] is {segment.label!r} "
                f"[{segment.start:.3f}, {segment.end:.3f}] in the manifest but {ref.label!r} "
                f"[{ref.start:.3f}, {ref.end:.3f}] in the list"
            )
    return problems


def sample_to_folder(
    manifest: Manifest,
    out_dir: str | os.PathLike,
    seed: int,
    kinds: Sequence[str] = ("phone", "word"),
    max_per_label: dict[str, int | None] | None = None,
    min_per_label: int = 1,
    top_k_labels: dict[str, int | None] | None = None,
    exclude: Iterable[str] | None = DEFAULT_EXCLUDE,
    num_utterances: int | None = None,
) -> dict[str, Path]:
    """Draw and write a whole sample set into ``out_dir``: ``{kind}_segments_seed{seed}.tsv`` per
    kind and, with ``num_utterances``, ``utterances_{n}_seed{seed}.tsv``. Returns the written paths."""
    out_dir = Path(out_dir)
    max_per_label = max_per_label or {}
    top_k_labels = top_k_labels or {}
    exclude = tuple(exclude or ())
    written: dict[str, Path] = {}
    for kind in kinds:
        refs = sample_segments(
            manifest,
            kind,
            max_per_label=max_per_label.get(kind, 200),
            min_per_label=min_per_label,
            top_k_labels=top_k_labels.get(kind),
            exclude=exclude,
            seed=seed,
        )
        if not refs:
            raise ManifestError(f"manifest {manifest.name!r} has no {kind} segments to sample")
        written[kind] = write_segment_list(out_dir / f"{kind}_segments_seed{seed}.tsv", refs)
    if num_utterances is not None:
        ids = sample_utterances(manifest, num_utterances, seed)
        written["utterances"] = write_utterance_list(
            out_dir / f"utterances_{num_utterances}_seed{seed}.tsv", ids
        )
    return written


__all__ = [
    "DEFAULT_EXCLUDE",
    "SEGMENT_COLUMNS",
    "SegmentRef",
    "check_segments",
    "read_segment_list",
    "read_utterance_list",
    "sample_segments",
    "sample_to_folder",
    "sample_utterances",
    "write_segment_list",
    "write_utterance_list",
]
