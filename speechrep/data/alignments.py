"""Parsers for time alignments in the formats speech corpora ship them in.

* **Praat TextGrid** (what the Montreal Forced Aligner writes), in both of Praat's text
  formats and in UTF-8 or UTF-16: :func:`read_textgrid` / :func:`parse_textgrid`, plus
  :func:`get_tier` and :func:`clean_mfa_alignment` (the LibriSpeech MFA label conventions).
* **TIMIT** ``.PHN`` / ``.WRD`` files (sample indices at 16 kHz): :func:`read_timit_segments`,
  and the 61 → 39 phone folding of Lee & Hon (1989): :func:`fold_timit_phones`.
* **CPC frame labels** (``converted_aligned_phones.txt``: one integer label per 10 ms frame):
  :func:`read_cpc_frame_labels`, :func:`frames_to_segments`, :func:`segments_to_frames`.

Every parser returns :class:`~speechrep.data.manifest.Segment` lists with times in seconds, and
every error is a :class:`~speechrep.data.errors.CorpusError` naming the file and line at fault.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Segment

__all__ = [
    "CPC_FRAME_SHIFT",
    "MFA_DROPPED_LABELS",
    "MFA_PHONE_RENAMES",
    "TIMIT_61_TO_39",
    "TIMIT_SAMPLE_RATE",
    "clean_mfa_alignment",
    "fold_timit_phones",
    "frames_to_segments",
    "get_tier",
    "parse_textgrid",
    "read_cpc_frame_labels",
    "read_text_lines",
    "read_textgrid",
    "read_timit_segments",
    "segments_to_frames",
]

# ------------------------------------------------------------------------------------------------
# Praat TextGrid
# ------------------------------------------------------------------------------------------------

# Praat's text formats are a stream of values (numbers, "strings" with "" as the escaped quote,
# and <exists>/<absent> flags); the long format puts a label such as `xmin =`, `item [1]:` or
# `intervals: size =` before each value, the short format writes the bare values. Labels end
# with "=", ":" or "?"; anything else outside a value is an error.
_TEXTGRID_TOKEN = re.compile(
    r"""
      (?P<space>[ \t\r\f\v]+)
    | (?P<newline>\n)
    | (?P<string>"(?:[^"]|"")*")
    | (?P<flag><exists>|<absent>)
    | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?=\s|$)
    | (?P<label>[A-Za-z][^"<\n]*?[=:?])(?=\s|$)
    | (?P<comment>![^\n]*)
    """,
    re.VERBOSE,
)


class _Token:
    __slots__ = ("kind", "line", "value")

    def __init__(self, kind: str, value: str, line: int) -> None:
        self.kind, self.value, self.line = kind, value, line


def _tokenize_textgrid(text: str, source: str) -> list[_Token]:
    tokens, pos, line = [], 0, 1
    while pos < len(text):
        match = _TEXTGRID_TOKEN.match(text, pos)
        if match is None:
            if text[pos] == '"':
                raise CorpusError(f"{source}:{line}: unterminated string (no closing quote)")
            snippet = text[pos:].split(maxsplit=1)[0][:40]
            raise CorpusError(f"{source}:{line}: unexpected text {snippet!r} in TextGrid")
        kind, value = match.lastgroup, match.group()
        if kind == "string":
            tokens.append(_Token("string", value[1:-1].replace('""', '"'), line))
        elif kind in ("number", "flag", "label"):
            tokens.append(_Token(kind, value, line))
        line += value.count("\n")
        pos = match.end()
    return tokens


def _label_key(label: str) -> str:
    """`intervals [1]:` → `intervals`, `xmin =` → `xmin`, `File type =` → `type`."""
    label = re.sub(r"\[[^\]]*\]", " ", label.rstrip("=:? \t"))
    words = label.split()
    return words[-1].lower() if words else ""


class _TextGridReader:
    """Reads values in order; in the long format also checks the label before each value."""

    def __init__(self, tokens: list[_Token], source: str) -> None:
        self.tokens: Iterator[_Token] = iter(tokens)
        self.source = source
        self.line = 1

    def _next(self, what: str) -> tuple[_Token, str | None]:
        label = None
        for token in self.tokens:
            self.line = token.line
            if token.kind == "label":
                label = token.value
                continue
            return token, label
        raise CorpusError(f"{self.source}: unexpected end of file, expected {what}")

    def value(self, kind: str, keys: tuple[str, ...]) -> str:
        what = f"{keys[0]} ({kind})"
        token, label = self._next(what)
        if label is not None and _label_key(label) not in keys:
            raise CorpusError(
                f"{self.source}:{token.line}: expected {keys[0]!r}, found {label.strip()!r} {token.value!r}"
            )
        if token.kind != kind:
            found = f'"{token.value}"' if token.kind == "string" else token.value
            raise CorpusError(f"{self.source}:{token.line}: expected {what}, found {found}")
        return token.value

    def number(self, *keys: str) -> float:
        return float(self.value("number", keys))

    def count(self, *keys: str) -> int:
        raw = self.value("number", keys)
        if not re.fullmatch(r"\+?\d+", raw):
            raise CorpusError(f"{self.source}:{self.line}: expected a count for {keys[0]!r}, found {raw}")
        return int(raw)

    def string(self, *keys: str) -> str:
        return self.value("string", keys)

    def rest(self) -> _Token | None:
        return next((t for t in self.tokens if t.kind != "label"), None)


def _decode_textgrid(data: bytes, source: str) -> str:
    """Praat writes UTF-16 (with a byte-order mark) when a label needs it, else ASCII/UTF-8."""
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        if data.startswith(codecs.BOM_UTF8):
            return data.decode("utf-8-sig")
        head = data[:200]
        if b"\x00" in head:  # UTF-16 without a byte-order mark
            return data.decode("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{source}: not valid UTF-16 text ({error.reason})") from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # Praat reads non-UTF-8 text files as Latin-1 too


def parse_textgrid(text: str, source: str = "<TextGrid>") -> dict[str, list[Segment]]:
    """Parse the text of a Praat TextGrid into ``{tier name: [Segment, ...]}`` in file order.

    Both of Praat's text formats are read. The long ("ooTextFile") format writes each value
    after a label::

        File type = "ooTextFile"
        Object class = "TextGrid"
        xmin = 0
        xmax = 1.5
        tiers? <exists>
        size = 1
        item []:
            item [1]:
                class = "IntervalTier"
                name = "phones"
                xmin = 0
                xmax = 1.5
                intervals: size = 2
                intervals [1]:
                    xmin = 0
                    xmax = 0.7
                    text = "AH0"
                ...

    and the short format writes the same values one per line without labels. Strings are in
    double quotes (``""`` is a quote inside a string) and may span lines; ``!`` starts a comment.
    Interval tiers give one segment per interval (empty labels included, so the caller decides
    what silence is); point tiers ("TextTier") give zero-length segments ``(mark, t, t)``.
    ``source`` names the file in error messages, which give the line at fault.
    """
    tokens = _tokenize_textgrid(text, source)
    reader = _TextGridReader(tokens, source)
    file_type = reader.string("type")
    if not file_type.startswith("ooTextFile"):
        raise CorpusError(f"{source}:{reader.line}: not a Praat text file (file type {file_type!r})")
    object_class = reader.string("class")
    if object_class != "TextGrid":
        raise CorpusError(f"{source}:{reader.line}: object class is {object_class!r}, not 'TextGrid'")
    reader.number("xmin")
    reader.number("xmax")
    flag = reader.value("flag", ("tiers",))
    n_tiers = reader.count("size") if flag == "<exists>" else 0
    tiers: dict[str, list[Segment]] = {}
    for _ in range(n_tiers):
        tier_class = reader.string("class")
        tier_line = reader.line
        name = reader.string("name")
        reader.number("xmin")
        reader.number("xmax")
        n_items = reader.count("size")
        segments = []
        if tier_class == "IntervalTier":
            for _ in range(n_items):
                start = reader.number("xmin")
                end = reader.number("xmax")
                if end < start:
                    raise CorpusError(
                        f"{source}:{reader.line}: interval ends ({end}) before it starts ({start}) "
                        f"in tier {name!r}"
                    )
                segments.append(Segment(reader.string("text"), start, end))
        elif tier_class == "TextTier":
            for _ in range(n_items):
                time = reader.number("number", "time")
                segments.append(Segment(reader.string("mark"), time, time))
        else:
            raise CorpusError(f"{source}:{tier_line}: unknown tier class {tier_class!r}")
        if name in tiers:
            raise CorpusError(f"{source}:{tier_line}: two tiers are named {name!r}")
        tiers[name] = segments
    extra = reader.rest()
    if extra is not None:
        raise CorpusError(f"{source}:{extra.line}: unexpected data after the last tier: {extra.value!r}")
    return tiers


def read_textgrid(path: str | os.PathLike) -> dict[str, list[Segment]]:
    """Read a Praat TextGrid file (long or short text format, UTF-8 or UTF-16).

    See :func:`parse_textgrid` for the format and the result. Binary TextGrids are refused with
    a message saying how to convert them.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CorpusError(f"TextGrid {path} cannot be read: {error.strerror or error}") from error
    if data.startswith(b"ooBinaryFile"):
        raise CorpusError(f"{path}: binary TextGrid; save it from Praat as a text file")
    return parse_textgrid(_decode_textgrid(data, str(path)), source=str(path))


def get_tier(tiers: Mapping[str, list[Segment]], name: str, source: str = "<TextGrid>") -> list[Segment]:
    """The tier called ``name``: exact match, else case-insensitive, else the one tier named
    ``"<speaker> - <name>"`` (MFA's naming in multi-speaker output). Raises naming ``source``."""
    if name in tiers:
        return tiers[name]
    lower = name.lower()
    matches = [tier for tier in tiers if tier.lower() == lower]
    if not matches:
        matches = [tier for tier in tiers if tier.lower().endswith(f" - {lower}")]
    if len(matches) == 1:
        return tiers[matches[0]]
    problem = "several tiers match" if matches else "no tier"
    raise CorpusError(f"{source}: {problem} {name!r}; the tiers are {sorted(tiers)}")


#: Labels MFA uses for silence ("" and "sp") and for spoken noise / out-of-vocabulary ("spn").
MFA_DROPPED_LABELS: frozenset[str] = frozenset({"", "sp", "spn"})
#: Phone renames applied after lower-casing: MFA's "sil" becomes the conventional "SIL".
MFA_PHONE_RENAMES: Mapping[str, str] = {"sil": "SIL"}

_STRESS_DIGITS = re.compile(r"\d+$")


def clean_mfa_alignment(
    phones: Sequence[Segment],
    words: Sequence[Segment] = (),
    *,
    strip_stress: bool = True,
    lowercase_phones: bool = True,
    phone_renames: Mapping[str, str] = MFA_PHONE_RENAMES,
    drop_phones: Collection[str] = MFA_DROPPED_LABELS,
    drop_words: Collection[str] = MFA_DROPPED_LABELS,
) -> tuple[list[Segment], list[Segment]]:
    """Apply the LibriSpeech MFA label conventions to raw ``phones`` and ``words`` tiers.

    Why: MFA writes ARPAbet phones with stress digits (``AH0``), silence as ``sil``/``sp``/empty
    and unknown words as ``spn``; analyses want one label per phone identity. The defaults give
    the conventions of the layer-wise analyses of LibriSpeech:

    * phones: the stress digit is stripped (``AH0`` → ``AH``), the label lower-cased (``ah``),
      then renamed by ``phone_renames`` (``sil`` → ``SIL``); labels in ``drop_phones`` (compared
      after stripping and lower-casing: empty, ``sp``, ``spn``) are dropped;
    * words: labels in ``drop_words`` (empty, ``sp``, ``spn``) are dropped; ``<unk>`` is kept and
      the case is left alone.

    Returns new ``(phones, words)`` lists; times are unchanged.
    """
    clean_phones = []
    for seg in phones:
        label = seg.label.strip()
        if strip_stress:
            label = _STRESS_DIGITS.sub("", label)
        if lowercase_phones:
            label = label.lower()
        if label in drop_phones:
            continue
        clean_phones.append(Segment(phone_renames.get(label, label), seg.start, seg.end))
    clean_words = [
        Segment(seg.label.strip(), seg.start, seg.end) for seg in words if seg.label.strip() not in drop_words
    ]
    return clean_phones, clean_words


# ------------------------------------------------------------------------------------------------
# TIMIT
# ------------------------------------------------------------------------------------------------

TIMIT_SAMPLE_RATE = 16_000


def read_timit_segments(path: str | os.PathLike, sample_rate: int = TIMIT_SAMPLE_RATE) -> list[Segment]:
    """Read a TIMIT ``.PHN`` or ``.WRD`` file into segments in seconds.

    Each line is ``<start sample> <end sample> <label>`` (e.g. ``0 3050 h#`` or
    ``3050 5723 she``), with sample indices at ``sample_rate`` (16 kHz in TIMIT) and the end
    exclusive, so the segment is ``[start / rate, end / rate)``. Blank lines are ignored.
    """
    path = Path(path)
    segments = []
    for number, line in read_text_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or not (fields[0].isdigit() and fields[1].isdigit()):
            raise CorpusError(
                f"{path}:{number}: expected '<start sample> <end sample> <label>', found {line.strip()!r}"
            )
        start, end = int(fields[0]), int(fields[1])
        if end < start:
            raise CorpusError(f"{path}:{number}: segment ends ({end}) before it starts ({start})")
        segments.append(Segment(fields[2], start / sample_rate, end / sample_rate))
    return segments


#: The 61 TIMIT phones folded to the 39 classes of Lee & Hon (1989), "Speaker-independent phone
#: recognition using hidden Markov models", IEEE TASSP 37(11). The glottal stop ``q`` maps to
#: ``None``: it is deleted. Closures, pauses and the utterance-edge silence become ``sil``.
TIMIT_61_TO_39: Mapping[str, str | None] = {
    "aa": "aa", "ae": "ae", "ah": "ah", "ao": "aa", "aw": "aw", "ax": "ah", "ax-h": "ah",
    "axr": "er", "ay": "ay", "b": "b", "bcl": "sil", "ch": "ch", "d": "d", "dcl": "sil",
    "dh": "dh", "dx": "dx", "eh": "eh", "el": "l", "em": "m", "en": "n", "eng": "ng",
    "epi": "sil", "er": "er", "ey": "ey", "f": "f", "g": "g", "gcl": "sil", "h#": "sil",
    "hh": "hh", "hv": "hh", "ih": "ih", "ix": "ih", "iy": "iy", "jh": "jh", "k": "k",
    "kcl": "sil", "l": "l", "m": "m", "n": "n", "ng": "ng", "nx": "n", "ow": "ow", "oy": "oy",
    "p": "p", "pau": "sil", "pcl": "sil", "q": None, "r": "r", "s": "s", "sh": "sh", "t": "t",
    "tcl": "sil", "th": "th", "uh": "uh", "uw": "uw", "ux": "uw", "v": "v", "w": "w", "y": "y",
    "z": "z", "zh": "sh",
}  # fmt: skip


def fold_timit_phones(
    segments: Sequence[Segment], mapping: Mapping[str, str | None] = TIMIT_61_TO_39, source: str = ""
) -> list[Segment]:
    """Relabel TIMIT phone segments with ``mapping`` (default: 61 → 39 phones, Lee & Hon 1989).

    Labels mapped to ``None`` (the glottal stop ``q``) are removed, leaving a gap; neighbouring
    segments that fold to the same label are kept apart (one segment per original phone).
    An unknown label raises, naming ``source`` (the ``.PHN`` file) when given.
    """
    folded = []
    for seg in segments:
        key = seg.label.lower()
        if key not in mapping:
            where = f"{source}: " if source else ""
            raise CorpusError(f"{where}phone {seg.label!r} is not in the TIMIT phone map")
        label = mapping[key]
        if label is not None:
            folded.append(Segment(label, seg.start, seg.end))
    return folded


# ------------------------------------------------------------------------------------------------
# CPC frame labels
# ------------------------------------------------------------------------------------------------

#: Frame shift of the CPC LibriSpeech-100 phone labels: 10 ms (160 samples at 16 kHz).
CPC_FRAME_SHIFT = 0.01


def read_cpc_frame_labels(
    path: str | os.PathLike, ids: Collection[str] | None = None
) -> dict[str, np.ndarray]:
    """Read CPC's ``converted_aligned_phones.txt``: ``{utterance id: int64 array of frame labels}``.

    Each line is an utterance id followed by one non-negative integer phone class per 10 ms
    frame, separated by spaces (``19-198-0000 0 0 0 12 12 ...``; 41 classes in the LibriSpeech
    100 h labels). With ``ids``, only those utterances are parsed and kept (the full file holds
    about 36 million labels). Duplicate ids, lines without labels and non-integer or negative
    labels raise, naming the file and line.
    """
    path = Path(path)
    wanted = None if ids is None else set(ids)
    labels: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    for number, line in read_text_lines(path):
        fields = line.split(maxsplit=1)
        if not fields:
            continue
        utt_id, rest = fields[0], fields[1] if len(fields) > 1 else ""
        if utt_id in seen:
            raise CorpusError(f"{path}:{number}: utterance {utt_id!r} already given on line {seen[utt_id]}")
        seen[utt_id] = number
        if wanted is not None and utt_id not in wanted:
            continue
        tokens = rest.split()
        if not tokens:
            raise CorpusError(f"{path}:{number}: utterance {utt_id!r} has no frame labels")
        try:
            frames = np.array(tokens, dtype=np.int64)
        except ValueError:
            bad = next((t for t in tokens if not re.fullmatch(r"[-+]?\d+", t)), tokens[0])
            raise CorpusError(
                f"{path}:{number}: frame label {bad!r} of utterance {utt_id!r} is not an integer"
            ) from None
        if frames.min() < 0:
            raise CorpusError(f"{path}:{number}: utterance {utt_id!r} has a negative frame label")
        labels[utt_id] = frames
    return labels


def frames_to_segments(
    labels: Sequence[int] | np.ndarray, frame_shift: float = CPC_FRAME_SHIFT
) -> list[Segment]:
    """Run-length encode frame labels into segments: frame ``i`` covers ``[i, i + 1) * frame_shift``.

    A run of equal labels over frames ``a .. b - 1`` becomes ``Segment(str(label), a * shift,
    b * shift)`` (times rounded to the microsecond), so ``[3, 3, 7]`` at 10 ms gives
    ``("3", 0.0, 0.02), ("7", 0.02, 0.03)``. :func:`segments_to_frames` inverts it.
    """
    frames = np.asarray(labels)
    if frames.ndim != 1:
        raise ValueError(f"frame labels must be one-dimensional, got shape {frames.shape}")
    if frames.size == 0:
        return []
    starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
    ends = np.r_[starts[1:], frames.size]
    return [
        Segment(str(frames[a]), round(a * frame_shift, 6), round(b * frame_shift, 6))
        for a, b in zip(starts.tolist(), ends.tolist())
    ]


def segments_to_frames(segments: Sequence[Segment], frame_shift: float = CPC_FRAME_SHIFT) -> np.ndarray:
    """Frame labels back from run-length segments (integer labels, contiguous from time 0)."""
    out = []
    expected_start = 0
    for seg in segments:
        first, last = round(seg.start / frame_shift), round(seg.end / frame_shift)
        if first != expected_start or last <= first:
            raise ValueError(
                f"segment {seg.label!r} [{seg.start}, {seg.end}] is not a whole number of frames "
                f"following frame {expected_start}"
            )
        out.append(np.full(last - first, int(seg.label), dtype=np.int64))
        expected_start = last
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------------------------------------------


def read_text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` pairs of a corpus text file read as UTF-8 (a BOM is tolerated).

    Opening and decoding failures raise :class:`CorpusError` naming the file (and the line).
    """
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig")
    except OSError as error:
        raise CorpusError(f"{path} cannot be read: {error.strerror or error}") from error
    number = 0
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                yield number, line
        except UnicodeDecodeError as error:
            raise CorpusError(f"{path}:{number + 1}: not valid UTF-8 text ({error.reason})") from error
