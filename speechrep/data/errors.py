"""Exceptions raised for bad input data. Each message names the file or field at fault."""


class SpeechrepDataError(ValueError):
    """Base class: bad input data (a corpus file, a manifest record, an alignment)."""


class ManifestError(SpeechrepDataError):
    """A manifest record or file is malformed or inconsistent."""


class AudioError(SpeechrepDataError):
    """An audio file is missing, unreadable, empty or holds non-finite samples."""


class CorpusError(SpeechrepDataError):
    """A corpus folder does not have the expected on-disk layout."""
