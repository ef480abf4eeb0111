"""Corpus readers: each turns one corpus's on-disk layout into a :class:`~speechrep.data.Manifest`.

``read_corpus("timit", root=..., split="TEST")`` dispatches by name through
:data:`CORPUS_READERS`; ``read_corpus_with_report`` also returns the files that were skipped
(:class:`ReadReport`). Every reader sorts utterances by id, stores absolute audio paths, reads
durations from the audio headers, and logs a warning naming the files it skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speechrep.data.manifest import Manifest

from .common import ReadReport, SkippedFile
from .commonvoice import read_commonvoice, read_commonvoice_with_report
from .cpc_librispeech import read_cpc_librispeech100, read_cpc_librispeech100_with_report
from .iemocap import read_iemocap, read_iemocap_with_report
from .librispeech import read_librispeech, read_librispeech_with_report
from .syllables import read_syllables, read_syllables_with_report
from .timit import read_timit, read_timit_with_report

__all__ = [
    "CORPUS_READERS",
    "CORPUS_REPORT_READERS",
    "ReadReport",
    "SkippedFile",
    "read_commonvoice",
    "read_commonvoice_with_report",
    "read_corpus",
    "read_corpus_with_report",
    "read_cpc_librispeech100",
    "read_cpc_librispeech100_with_report",
    "read_iemocap",
    "read_iemocap_with_report",
    "read_librispeech",
    "read_librispeech_with_report",
    "read_syllables",
    "read_syllables_with_report",
    "read_timit",
    "read_timit_with_report",
]

#: Corpus name → reader returning a Manifest.
CORPUS_READERS: dict[str, Callable[..., Manifest]] = {
    "librispeech": read_librispeech,
    "cpc_librispeech100": read_cpc_librispeech100,
    "timit": read_timit,
    "commonvoice": read_commonvoice,
    "iemocap": read_iemocap,
    "syllables": read_syllables,
}

#: Corpus name → the same reader returning a :class:`ReadReport` (manifest + skipped files).
CORPUS_REPORT_READERS: dict[str, Callable[..., ReadReport]] = {
    "librispeech": read_librispeech_with_report,
    "cpc_librispeech100": read_cpc_librispeech100_with_report,
    "timit": read_timit_with_report,
    "commonvoice": read_commonvoice_with_report,
    "iemocap": read_iemocap_with_report,
    "syllables": read_syllables_with_report,
}


def _lookup(registry: dict[str, Callable[..., Any]], name: str) -> Callable[..., Any]:
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {sorted(registry)}") from None


def read_corpus(name: str, **kwargs: Any) -> Manifest:
    """Read corpus ``name`` (a key of :data:`CORPUS_READERS`) with the reader's keyword arguments."""
    return _lookup(CORPUS_READERS, name)(**kwargs)


def read_corpus_with_report(name: str, **kwargs: Any) -> ReadReport:
    """Like :func:`read_corpus`, but return the manifest together with the skipped files."""
    return _lookup(CORPUS_REPORT_READERS, name)(**kwargs)
