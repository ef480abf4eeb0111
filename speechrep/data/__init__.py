"""Data layer: the Manifest, audio I/O, corpus readers and speech synthesis."""

from speechrep.data.audio import audio_info, load_audio, save_audio
from speechrep.data.errors import AudioError, CorpusError, ManifestError, SpeechrepDataError
from speechrep.data.manifest import Manifest, Segment, Utterance

__all__ = [
    "AudioError",
    "CorpusError",
    "Manifest",
    "ManifestError",
    "Segment",
    "SpeechrepDataError",
    "Utterance",
    "audio_info",
    "load_audio",
    "save_audio",
]
