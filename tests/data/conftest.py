"""Fixtures for the corpus-reader tests: synthesised audio files and TextGrid text in both formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechrep.data import save_audio


def _tone(num_samples: int, rate: int, freq: float) -> np.ndarray:
    t = np.arange(num_samples) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def make_tone_wav() -> Callable[..., Path]:
    """``write(path, num_samples, rate=16000, audio_format=None)``: a sine tone file.

    ``.wav``/``.flac`` go through :func:`speechrep.data.save_audio`; ``audio_format="NIST"``
    (TIMIT's SPHERE) and ``"MP3"`` (Common Voice) are written by soundfile directly.
    """

    def write(path: Path, num_samples: int, rate: int = 16000, audio_format: str | None = None) -> Path:
        wave = _tone(num_samples, rate, 220.0 + 10 * (num_samples % 17))
        if audio_format is None:
            return save_audio(path, wave, rate)
        path.parent.mkdir(parents=True, exist_ok=True)
        subtype = "PCM_16" if audio_format == "NIST" else None
        sf.write(path, wave, rate, format=audio_format, subtype=subtype)
        return path

    return write


def _textgrid_long(tiers: dict[str, list[tuple[str, float, float]]], xmax: float) -> str:
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 ", f"xmax = {xmax} "]
    lines += ["tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
    for i, (name, intervals) in enumerate(tiers.items(), start=1):
        lines += [f"    item [{i}]:", '        class = "IntervalTier" ', f'        name = "{name}" ']
        lines += [
            "        xmin = 0 ",
            f"        xmax = {xmax} ",
            f"        intervals: size = {len(intervals)} ",
        ]
        for j, (label, start, end) in enumerate(intervals, start=1):
            text = label.replace('"', '""')
            lines += [
                f"        intervals [{j}]:",
                f"            xmin = {start} ",
                f"            xmax = {end} ",
            ]
            lines.append(f'            text = "{text}" ')
    return "\n".join(lines) + "\n"


def _textgrid_short(tiers: dict[str, list[tuple[str, float, float]]], xmax: float) -> str:
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", str(xmax), "<exists>"]
    lines.append(str(len(tiers)))
    for name, intervals in tiers.items():
        lines += ['"IntervalTier"', f'"{name}"', "0", str(xmax), str(len(intervals))]
        for label, start, end in intervals:
            text = label.replace('"', '""')
            lines += [str(start), str(end), f'"{text}"']
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_textgrid_text() -> Callable[..., str]:
    """``text(tiers, xmax, short=False)``: a Praat TextGrid of interval tiers, as Praat writes it."""

    def text(tiers: dict[str, list[tuple[str, float, float]]], xmax: float, short: bool = False) -> str:
        return (_textgrid_short if short else _textgrid_long)(tiers, xmax)

    return text
