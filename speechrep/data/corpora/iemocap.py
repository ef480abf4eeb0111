"""IEMOCAP: the Interactive Emotional Dyadic Motion Capture database (Busso et al., 2008).

Five sessions, each a female and a male actor in improvised and scripted dialogs. On-disk
layout of the full release (``IEMOCAP_full_release``)::

    <root>/Session<N>/sentences/wav/<dialog>/<utterance>.wav
    <root>/Session<N>/dialog/transcriptions/<dialog>.txt
        Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
    <root>/Session<N>/dialog/EmoEvaluation/<dialog>.txt
        [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
        C-E2:<TAB>Neutral;<TAB>()          (individual annotators' votes: not read)

The dialog name (``Ses01F_impro01``, ``Ses01F_script01_1``) gives the session, which actor
wore the motion-capture markers and whether it was improvised or scripted; the last part of
the utterance name gives who speaks: ``_F000`` is the session's female actor (``Ses01F``),
``_M003`` its male actor (``Ses01M``). The EmoEvaluation line gives the consensus category
(:data:`IEMOCAP_EMOTIONS`) and the mean valence, activation and dominance ratings (1-5).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from speechrep.data.alignments import read_text_lines
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import Manifest

from .common import OnMissing, ReadReport, SkipLog, find_child, finish, list_children, utterance_from_audio

__all__ = [
    "IEMOCAP_EMOTIONS",
    "IEMOCAP_FOUR_CLASSES",
    "read_iemocap",
    "read_iemocap_emotions",
    "read_iemocap_transcriptions",
    "read_iemocap_with_report",
]

#: Category codes of the EmoEvaluation files ("xxx": the annotators did not agree).
IEMOCAP_EMOTIONS = {
    "neu": "neutral",
    "hap": "happiness",
    "exc": "excitement",
    "sad": "sadness",
    "ang": "anger",
    "fru": "frustration",
    "fea": "fear",
    "sur": "surprise",
    "dis": "disgust",
    "oth": "other",
    "xxx": "no agreement",
}
#: The usual four-class task: use with ``merge_excited=True`` (excitement counts as happiness).
IEMOCAP_FOUR_CLASSES = ("neu", "hap", "sad", "ang")

_UTTERANCE = re.compile(
    r"(?P<dialog>Ses(?P<session>\d\d)[FM]_(?P<mode>impro|script)[^_]*(?:_[^_]+)*?)_(?P<who>[FM])\d{3}"
)
_EVALUATION = re.compile(
    r"\[\s*(?P<start>[\d.]+)\s*-\s*(?P<end>[\d.]+)\s*\]\s+(?P<id>\S+)\s+(?P<emotion>\S+)\s+"
    r"\[\s*(?P<v>[-\d.]+)\s*,\s*(?P<a>[-\d.]+)\s*,\s*(?P<d>[-\d.]+)\s*\]"
)
_TRANSCRIPTION = re.compile(r"(?P<id>Ses\S+)\s+\[[\d.]+\s*-\s*[\d.]+\]:\s?(?P<text>.*)")


def read_iemocap_emotions(path: str | os.PathLike) -> dict[str, tuple[str, float, float, float]]:
    """Read an EmoEvaluation file: ``{utterance id: (category, valence, activation, dominance)}``.

    Only the summary lines (``[start - end]  id  category  [v, a, d]``) are read; the header
    (``%``) and the per-annotator lines (``C-E2:``, ``A-F1:``, ...) are skipped. A line that
    starts with ``[`` but is not a summary line, or a repeated id, raises naming file and line.
    """
    path = Path(path)
    evaluations: dict[str, tuple[str, float, float, float]] = {}
    for number, line in read_text_lines(path):
        if not line.startswith("["):
            continue
        match = _EVALUATION.fullmatch(line.strip())
        if match is None:
            raise CorpusError(
                f"{path}:{number}: expected '[start - end]<TAB>id<TAB>category<TAB>[v, a, d]', "
                f"found {line.strip()!r}"
            )
        utt_id = match["id"]
        if utt_id in evaluations:
            raise CorpusError(f"{path}:{number}: utterance {utt_id} is evaluated twice")
        evaluations[utt_id] = (match["emotion"], float(match["v"]), float(match["a"]), float(match["d"]))
    return evaluations


def read_iemocap_transcriptions(path: str | os.PathLike) -> dict[str, str]:
    """Read a dialog transcription file: ``{utterance id: text}``.

    Utterance lines are ``<id> [<start>-<end>]: <text>``; other lines (turns of overlapping
    speech or noise written without an utterance id and time span) are not utterances and are
    skipped.
    """
    transcripts: dict[str, str] = {}
    for _, line in read_text_lines(path):
        match = _TRANSCRIPTION.fullmatch(line.strip())
        if match is not None:
            transcripts.setdefault(match["id"], match["text"].strip())
    return transcripts


def read_iemocap_with_report(
    root: str | os.PathLike,
    sessions: Sequence[int] = (1, 2, 3, 4, 5),
    emotions: Collection[str] | None = None,
    merge_excited: bool = False,
    on_missing: OnMissing = "error",
) -> ReadReport:
    """Read IEMOCAP; see :func:`read_iemocap`. Also returns the skipped files."""
    root = Path(root)
    if emotions is not None:
        unknown = sorted(set(emotions) - set(IEMOCAP_EMOTIONS))
        if unknown:
            raise ValueError(f"unknown IEMOCAP emotion code(s) {unknown}; known: {sorted(IEMOCAP_EMOTIONS)}")
    log = SkipLog(on_missing)
    utterances = []
    for session in sessions:
        session_dir = find_child(root, f"Session{session}")
        if session_dir is None or not session_dir.is_dir():
            raise CorpusError(f"IEMOCAP folder {root} has no Session{session} folder")
        wav_root = session_dir / "sentences" / "wav"
        if not wav_root.is_dir():
            raise CorpusError(f"IEMOCAP session folder {session_dir} has no sentences/wav folder")
        for dialog_dir in list_children(wav_root, dirs=True):
            dialog = dialog_dir.name
            emo_path = session_dir / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
            text_path = session_dir / "dialog" / "transcriptions" / f"{dialog}.txt"
            evaluations = read_iemocap_emotions(emo_path) if emo_path.is_file() else {}
            transcripts = read_iemocap_transcriptions(text_path) if text_path.is_file() else {}
            for wav in list_children(dialog_dir, dirs=False):
                if wav.suffix.lower() != ".wav":
                    continue
                utt_id = wav.stem
                name = _UTTERANCE.fullmatch(utt_id)
                if name is None:
                    log.skip(wav, "not an IEMOCAP utterance name (Ses<nn><F|M>_<dialog>_<F|M><nnn>)")
                    continue
                if utt_id not in evaluations:
                    reason = "no evaluation line" if emo_path.is_file() else "EmoEvaluation file missing"
                    log.missing(emo_path, reason, utt_id)
                    continue
                if utt_id not in transcripts:
                    reason = "no transcription line" if text_path.is_file() else "transcription file missing"
                    log.missing(text_path, reason, utt_id)
                    continue
                emotion, valence, activation, dominance = evaluations[utt_id]
                if merge_excited and emotion == "exc":
                    emotion = "hap"
                if emotions is not None and emotion not in emotions:
                    continue
                info = log.probe_audio(wav, utt_id)
                if info is None:
                    continue
                utterances.append(
                    utterance_from_audio(
                        utt_id,
                        info,
                        speaker=f"Ses{name['session']}{name['who']}",
                        text=transcripts[utt_id],
                        labels={
                            "emotion": emotion,
                            "valence": valence,
                            "activation": activation,
                            "dominance": dominance,
                            "gender": name["who"],
                            "session": int(name["session"]),
                            "mode": "improvised" if name["mode"] == "impro" else "scripted",
                            "dialog": name["dialog"],
                        },
                    )
                )
    if not utterances and not log.skipped and emotions is None:
        raise CorpusError(
            f"no IEMOCAP utterances under {root} (expected Session<N>/sentences/wav/<dialog>/*.wav)"
        )
    return finish("iemocap", utterances, log)


def read_iemocap(
    root: str | os.PathLike,
    sessions: Sequence[int] = (1, 2, 3, 4, 5),
    emotions: Collection[str] | None = None,
    merge_excited: bool = False,
    on_missing: OnMissing = "error",
) -> Manifest:
    """Read the IEMOCAP utterances of the given ``sessions`` into a Manifest.

    ``root`` holds ``Session1`` ... ``Session5`` (layout in the module docstring). The id is the
    utterance name (``Ses01F_impro01_F000``); speaker is session + the speaking actor's sex
    (``Ses01F``; ``Ses01F_impro01_M003`` is spoken by ``Ses01M``); text the transcription; labels
    hold ``emotion`` (category code, :data:`IEMOCAP_EMOTIONS`), ``valence``, ``activation``,
    ``dominance`` (floats), ``gender`` (``F``/``M``), ``session`` (int), ``mode``
    (``improvised``/``scripted``) and ``dialog``.

    ``merge_excited`` relabels ``exc`` as ``hap``; ``emotions`` keeps only those codes (after
    merging): ``emotions=IEMOCAP_FOUR_CLASSES, merge_excited=True`` gives the usual 4-class
    set. An utterance without an evaluation or transcription line, or with unreadable audio,
    raises (``on_missing="error"``) or is skipped and reported (``"skip"``).
    """
    return read_iemocap_with_report(root, sessions, emotions, merge_excited, on_missing).manifest
