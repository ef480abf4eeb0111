"""A ctypes binding to the espeak-ng C library that returns audio with phone and word onsets.

Why ctypes: the ``espeak-ng`` command line prints no phone timing (``--pho`` needs MBROLA), and
the Python wrappers on PyPI either shell out or expose only phonemisation. The C API reports a
``espeakEVENT_PHONEME`` event (IPA name, sample offset) for every phone and a
``espeakEVENT_WORD`` event for every word, which is exactly the alignment a synthetic corpus needs.
The shared library and its data folder come from the ``espeakng-loader`` wheel, so nothing has to
be installed system-wide.

espeak-ng keeps all its state in globals (current voice, parameters, the synthesis callback, and
the wave generator's memory), so the binding is a process-wide singleton: :class:`EspeakSynthesizer`
always returns the same object, touches the library only when asked to speak (never at import),
serialises every use with one lock, and gives each utterance a freshly loaded library so the audio
does not depend on what was spoken before (see the class docstring).

Phone labels are espeak-ng's IPA names with the stress marks ``ˈ`` ``ˌ`` (and the syllable break
``.``, the linking mark ``‿`` and the tie bars ``͡`` ``͜`` should a voice emit them) removed; length
marks (``ː``, ``ˑ``) are kept, because in espeak-ng's English inventories they are part of the
phoneme's identity (``i`` in "happy" and ``iː`` in "see" are different phonemes). Language-switch
markers such as ``(en)`` are not phones and are dropped.

Silence: espeak-ng marks its pauses with phoneme events whose name is empty. They become phones
labelled :data:`SILENCE` (``"sil"``), as does any audio before the first phone; consecutive pauses
merge into one. Silence phones belong to no word; words hold only real phones, so the phones of a
:class:`Synthesis` tile the whole waveform and every non-silence phone lies inside its word.

Words: every phone belongs to the word event that precedes it in the event stream. Word events
are matched to the whitespace tokens of the text by order and text position; where espeak-ng speaks
two tokens as one dictionary entry ("of the", "had been": one word event), their phones are split
between them by comparing with each token's isolated pronunciation, so words match the tokens.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Label of the silence phones (leading silence and espeak-ng's pauses); see the module docstring.
SILENCE = "sil"

#: Suprasegmental symbols removed from phone labels: primary and secondary stress, syllable break,
#: linking mark and the two tie bars. Length marks are deliberately kept (see the module docstring).
STRIPPED_SYMBOLS = frozenset({"ˈ", "ˌ", ".", "‿", "\u0361", "\u035c"})

# -- constants of speak_lib.h ----------------------------------------------------------------------
_AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: PLAYBACK, RETRIEVAL, SYNCHRONOUS, SYNCH_PLAYBACK
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit() when the data is missing
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_PARAM_WORDGAP = 7
_EE_OK = 0
_PHONEMES_IPA = 0x02  # espeak_TextToPhonemes: IPA output; bits 8-23 hold the separator character

#: Bounds espeak-ng accepts for the speech parameters (rate in words per minute; pitch and range
#: on its 0-100 scale, 50 being the voice's own base pitch and intonation range).
RATE_LIMITS = (80, 450)
PITCH_LIMITS = (0, 100)


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    """``espeak_EVENT``; for phoneme events ``id.string`` holds up to 8 bytes of the (IPA) name."""

    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character position of the word in the text
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),  # sample offset from the start of the utterance
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class EspeakError(RuntimeError):
    """espeak-ng could not be loaded or initialised, or refused a voice, parameter or text."""


@dataclass
class Synthesis:
    """One synthesised utterance at espeak-ng's native rate.

    Attributes:
        audio: mono float32 waveform in [-1, 1].
        sample_rate: its rate (22050 Hz for espeak-ng's voices).
        phones: ``(label, onset_sample)`` in time order; a phone ends where the next one starts, the
            last one at the end of the audio, so the phones tile the waveform. Silence is ``"sil"``.
        words: ``(word_text, onset_sample)`` in time order; the onset is that of the word's first
            phone (espeak-ng's word events fire tens of milliseconds early, so they are not used
            for timing).
        phone_words: for each phone, the index of its word in ``words``; ``None`` for silence.
    """

    audio: np.ndarray
    sample_rate: int
    phones: list[tuple[str, int]] = field(default_factory=list)
    words: list[tuple[str, int]] = field(default_factory=list)
    phone_words: list[int | None] = field(default_factory=list)

    @property
    def num_samples(self) -> int:
        return int(self.audio.shape[0])

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate

    def phone_spans(self) -> list[tuple[str, int, int]]:
        """``(label, start, end)`` in samples: each phone ends at the next onset (the last at the end)."""
        ends = [onset for _, onset in self.phones[1:]] + [self.num_samples]
        return [(label, onset, end) for (label, onset), end in zip(self.phones, ends)]

    def word_spans(self) -> list[tuple[str, int, int]]:
        """``(text, start, end)`` in samples: from a word's first phone onset to its last phone's end."""
        spans: list[list] = [[text, onset, onset] for text, onset in self.words]
        for (_, _, end), word in zip(self.phone_spans(), self.phone_words):
            if word is not None:
                spans[word][2] = max(spans[word][2], end)
        return [(text, start, end) for text, start, end in spans]


def espeak_data_path() -> Path:
    """The ``espeak-ng-data`` folder shipped with ``espeakng-loader``."""
    import espeakng_loader

    return Path(espeakng_loader.get_data_path())


def list_voice_variants(data_path: str | os.PathLike | None = None) -> list[str]:
    """Names of the voice variants (``m1`` ... ``f5``, ``klatt``, ``whisper``, ...), sorted.

    A variant changes pitch, formants and voice quality of any language voice and is selected by
    appending it: ``"en-us+m3"``. They are the files of ``espeak-ng-data/voices/!v``.
    """
    folder = Path(data_path) if data_path is not None else espeak_data_path()
    return list(_variants_in(str(folder / "voices" / "!v")))


@functools.lru_cache(maxsize=8)
def _variants_in(folder: str) -> tuple[str, ...]:
    if not os.path.isdir(folder):
        raise EspeakError(f"espeak-ng data folder has no voice variants at {folder}")
    return tuple(sorted(e.name for e in os.scandir(folder) if e.is_file() and not e.name.startswith(".")))


def clean_phone_label(name: str) -> str:
    """Remove :data:`STRIPPED_SYMBOLS` (stress, syllable and linking marks) from an IPA phone name."""
    return "".join(ch for ch in name if ch not in STRIPPED_SYMBOLS)


class EspeakSynthesizer:
    """Process-wide handle on the espeak-ng library (see the module docstring for why a singleton).

    ``EspeakSynthesizer()`` always returns the same object; nothing is loaded until the first call.
    All methods are thread-safe: one lock serialises every use of the library.

    Determinism: espeak-ng's wave generator keeps state in static variables from one utterance to
    the next (pitch-flutter phase, echo buffer, resonator memories, the random generator), so the
    same call gives slightly different audio depending on what was spoken before, and
    ``espeak_Terminate``/``espeak_Initialize`` do not reset it. Each synthesis therefore loads a
    fresh instance of the library (``dlopen``), initialises it, speaks, terminates and unloads it
    (``dlclose``), which restores every static to its initial value. This costs a few milliseconds
    per utterance (mostly espeak-ng re-reading its voice list), and espeak-ng does not free that
    list on termination (about 3 kB per utterance stays allocated). The library is loaded from a
    private copy of the ``espeakng-loader`` file, so another user of espeak-ng in the same process
    (a phonemiser, say) neither shares nor disturbs this state. Result: the audio is a pure
    function of the arguments.
    """

    _instance: EspeakSynthesizer | None = None
    _instance_lock = threading.Lock()

    _lock: threading.RLock
    _library_copy: Path | None
    _sample_rate: int
    _chunks: list[np.ndarray]
    _events: list[tuple[int, int, int, int, bytes]]
    _pronunciations: dict[tuple[str, str], tuple[str, ...]]

    def __new__(cls) -> EspeakSynthesizer:
        with cls._instance_lock:
            if cls._instance is None:
                instance = super().__new__(cls)
                instance._lock = threading.RLock()
                instance._library_copy = None
                instance._sample_rate = 0
                instance._chunks = []
                instance._events = []
                instance._pronunciations = {}
                instance._callback = _SynthCallback(instance._on_synth)  # must outlive every session
                cls._instance = instance
            return cls._instance

    # -- library sessions --------------------------------------------------------------------------
    def _private_library(self) -> Path:
        """A process-private copy of the espeak-ng shared library (made once, removed at exit)."""
        if self._library_copy is None or not self._library_copy.is_file():
            import espeakng_loader

            source = Path(espeakng_loader.get_library_path())
            if not source.is_file():
                raise EspeakError(f"espeakng-loader has no espeak-ng library at {source}")
            folder = Path(tempfile.mkdtemp(prefix="speechrep-espeak-"))
            target = folder / source.name
            shutil.copyfile(source, target)
            atexit.register(shutil.rmtree, folder, True)
            self._library_copy = target
        return self._library_copy

    @contextlib.contextmanager
    def _session(self) -> Iterator[ctypes.CDLL]:
        """Load, initialise, yield, then terminate and unload a fresh library (caller holds the lock)."""
        import espeakng_loader

        path = self._private_library()
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as error:
            raise EspeakError(f"cannot load the espeak-ng library {path}: {error}") from error
        try:
            _declare_prototypes(lib)
            data_path = espeakng_loader.get_data_path().encode()
            options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, options)
            if rate <= 0:
                raise EspeakError(
                    f"espeak_Initialize failed (returned {rate}) with data folder {data_path.decode()}"
                )
            self._sample_rate = int(rate)
            lib.espeak_SetSynthCallback(self._callback)
            try:
                yield lib
            finally:
                lib.espeak_Terminate()
        finally:
            _dlclose(lib._handle)

    def _on_synth(self, wav, num_samples: int, events) -> int:
        """espeak-ng's callback: collect the audio chunk and the events; returning 0 continues."""
        if wav and num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type in (_EVENT_WORD, _EVENT_PHONEME):
                name = event.id.string if event.type == _EVENT_PHONEME else b""
                self._events.append((event.type, event.text_position, event.length, event.sample, name))
            i += 1
        return 0

    @property
    def sample_rate(self) -> int:
        """espeak-ng's output rate (22050 Hz)."""
        with self._lock:
            if not self._sample_rate:
                with self._session():
                    pass
            return self._sample_rate

    # -- public API --------------------------------------------------------------------------------
    def synthesize(
        self,
        text: str,
        voice: str = "en-us",
        pitch: int = 50,
        rate: int = 175,
        intonation_range: int = 50,
        seed: int = 0,
    ) -> Synthesis:
        """Speak ``text`` and return the waveform with phone and word onsets.

        Args:
            text: plain text (no SSML); words are whitespace-separated tokens, punctuation around a
                token is not part of the word label.
            voice: an espeak-ng voice name, optionally with a variant: ``"en-us"``, ``"en-us+m3"``,
                ``"en+f2"`` (see :func:`list_voice_variants`).
            pitch: base pitch on espeak-ng's 0-100 scale (50 is the voice's own).
            rate: speaking rate in words per minute (80-450).
            intonation_range: pitch range 0-100 (0 monotone, 50 the voice's own).
            seed: seed of espeak-ng's random generator (used by breathy voices such as ``whisper``).

        Raises:
            EspeakError: the library fails, the voice is unknown or a parameter is out of range.
        """
        tokens = _tokenize(text)
        if not tokens:
            raise EspeakError(f"cannot synthesise {text!r}: it holds no words")
        for name, value, (low, high) in (
            ("pitch", pitch, PITCH_LIMITS),
            ("rate", rate, RATE_LIMITS),
            ("intonation_range", intonation_range, PITCH_LIMITS),
        ):
            if not low <= int(value) <= high:
                raise EspeakError(f"{name}={value} is outside espeak-ng's range {low}..{high}")
        with self._lock, self._session() as lib:
            self._select_voice(lib, voice)
            for parameter, value in (
                (_PARAM_RATE, rate),
                (_PARAM_PITCH, pitch),
                (_PARAM_RANGE, intonation_range),
                (_PARAM_VOLUME, 100),
                (_PARAM_WORDGAP, 0),
            ):
                if lib.espeak_SetParameter(parameter, int(value), 0) != _EE_OK:
                    raise EspeakError(f"espeak-ng refused parameter {parameter} = {value}")
            lib.espeak_ng_SetRandSeed(int(seed))
            self._chunks, self._events = [], []
            try:
                encoded = text.encode("utf-8")
                buffer = ctypes.create_string_buffer(encoded)
                status = lib.espeak_Synth(
                    buffer, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
                )
                if status != _EE_OK or lib.espeak_Synchronize() != _EE_OK:
                    raise EspeakError(f"espeak_Synth failed with status {status} for text {text[:60]!r}")
                chunks, events = self._chunks, self._events
            finally:
                self._chunks, self._events = [], []
            pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
            if pcm.size == 0:
                raise EspeakError(f"espeak-ng produced no audio for text {text[:60]!r}")
            audio = pcm.astype(np.float32) / 32768.0
            language = voice.split("+")[0]
            return _build_synthesis(
                audio, self._sample_rate, events, tokens, lambda w: self._pronounce(lib, language, w)
            )

    def phonemize(self, word: str, voice: str = "en-us") -> list[str]:
        """The phones (cleaned IPA labels) of ``word`` spoken in isolation by ``voice``."""
        with self._lock, self._session() as lib:
            self._select_voice(lib, voice)
            return list(self._pronounce(lib, voice.split("+")[0], word))

    @staticmethod
    def _select_voice(lib: ctypes.CDLL, voice: str) -> None:
        # espeak-ng silently ignores an unknown variant, so check it here.
        _, _, variant = voice.partition("+")
        if variant and variant not in list_voice_variants():
            raise EspeakError(
                f"espeak-ng has no voice variant {variant!r} (in voice {voice!r}); "
                f"the variants are: {', '.join(list_voice_variants())}"
            )
        if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            variants = ", ".join(list_voice_variants()[:12])
            raise EspeakError(
                f"espeak-ng has no voice {voice!r}; use a language such as 'en-us' or 'en', "
                f"optionally with a variant from voices/!v ({variants}, ...), e.g. 'en-us+m3'"
            )

    def _pronounce(self, lib: ctypes.CDLL, language: str, word: str) -> tuple[str, ...]:
        """Isolated pronunciation of ``word`` in the session's voice (cached per language)."""
        key = (language, word)
        if key not in self._pronunciations:
            buffer = ctypes.create_string_buffer(word.encode("utf-8"))
            pointer = ctypes.c_char_p(ctypes.addressof(buffer))
            mode = _PHONEMES_IPA | (ord("_") << 8)
            parts: list[str] = []
            while pointer.value:
                result = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, mode)
                if result:
                    parts.extend(result.decode("utf-8", errors="ignore").replace(" ", "_").split("_"))
            self._pronunciations[key] = tuple(label for label in map(clean_phone_label, parts) if label)
        return self._pronunciations[key]


def _declare_prototypes(lib: ctypes.CDLL) -> None:
    """Argument and return types of the functions used (speak_lib.h / espeak_ng.h)."""
    lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = (_SynthCallback,)
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = (
        ctypes.c_void_p,  # text
        ctypes.c_size_t,  # size in bytes, including the terminator
        ctypes.c_uint,  # position
        ctypes.c_int,  # position type
        ctypes.c_uint,  # end position
        ctypes.c_uint,  # flags
        ctypes.c_void_p,  # unique identifier (out)
        ctypes.c_void_p,  # user data
    )
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.argtypes = ()
    lib.espeak_Synchronize.restype = ctypes.c_int
    lib.espeak_Terminate.argtypes = ()
    lib.espeak_Terminate.restype = ctypes.c_int
    lib.espeak_TextToPhonemes.argtypes = (ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int)
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_ng_SetRandSeed.argtypes = (ctypes.c_long,)
    lib.espeak_ng_SetRandSeed.restype = None


def _dlclose(handle: int) -> None:
    """Unload a library loaded with ctypes (ctypes itself never unloads)."""
    if sys.platform == "win32":
        import _ctypes

        _ctypes.FreeLibrary(handle)  # type: ignore[attr-defined]
    else:
        import _ctypes

        _ctypes.dlclose(handle)  # type: ignore[attr-defined]


def _reset_lock_after_fork() -> None:
    """A child forked while another thread held the lock would deadlock on it: give it a fresh one."""
    EspeakSynthesizer._instance_lock = threading.Lock()
    if EspeakSynthesizer._instance is not None:
        EspeakSynthesizer._instance._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


# -- turning events into an alignment ----------------------------------------------------------------
_TOKEN = re.compile(r"\S+")
_LANGUAGE_SWITCH = re.compile(r"\([\w-]+\)")
_EDGE_PUNCTUATION = re.compile(r"^[^\w']+|[^\w']+$")
_MISMATCH_PENALTY = 1000


@dataclass(frozen=True)
class _Token:
    text: str
    position: int  # 1-based character position of the token's first character, as espeak-ng counts


def _tokenize(text: str) -> list[_Token]:
    """Whitespace tokens with surrounding punctuation removed; punctuation-only tokens are dropped."""
    tokens = []
    for match in _TOKEN.finditer(text):
        raw = match.group()
        word = _EDGE_PUNCTUATION.sub("", raw)
        if word:
            tokens.append(_Token(word, match.start() + raw.find(word) + 1))
    return tokens


def _decode_name(raw: bytes) -> str:
    # The name field is 8 bytes without a terminator when full; a cut multi-byte character is dropped.
    return raw.decode("utf-8", errors="ignore")


def _match_events_to_tokens(event_positions: Sequence[int], token_positions: Sequence[int]) -> list[int]:
    """Map each word event to a token: a non-decreasing assignment that first minimises the number of
    tokens without an event and events sharing a token, then the total text-position distance.

    espeak-ng usually emits one word event per token, in order, but merges some word pairs it has a
    multi-word dictionary entry for ("of the", "had been": one event, the second token has none),
    may split a token (numbers, hyphens), and after punctuation or merged words reports positions
    that are off by a character or more. Order plus position handles all three.
    """
    m, n = len(event_positions), len(token_positions)
    if m == n:
        return list(range(n))
    if m == 0 or n == 0:
        return [0] * m if n else []
    inf = float("inf")
    cost = [[inf] * n for _ in range(m)]
    back = [[-1] * n for _ in range(m)]
    for j in range(n):
        cost[0][j] = abs(event_positions[0] - token_positions[j]) + _MISMATCH_PENALTY * j
    for i in range(1, m):
        for j in range(n):
            distance = abs(event_positions[i] - token_positions[j])
            for k in range(j + 1):
                penalty = _MISMATCH_PENALTY if k == j else _MISMATCH_PENALTY * (j - k - 1)
                candidate = cost[i - 1][k] + penalty + distance
                if candidate < cost[i][j]:
                    cost[i][j], back[i][j] = candidate, k
    last = min(range(n), key=lambda j: cost[m - 1][j] + _MISMATCH_PENALTY * (n - 1 - j))
    assignment = [last]
    for i in range(m - 1, 0, -1):
        assignment.append(back[i][assignment[-1]])
    return assignment[::-1]


def _edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _split_phones(labels: Sequence[str], references: Sequence[Sequence[str]]) -> list[int] | None:
    """Cut ``labels`` into ``len(references)`` non-empty consecutive parts, each as close (edit
    distance) as possible to its word's isolated pronunciation; returns the part sizes, or ``None``
    when there are fewer phones than words."""
    k, n = len(references), len(labels)
    if n < k:
        return None
    inf = float("inf")
    # best[w][e]: cost of giving words 0..w-1 the phones 0..e-1
    best = [[inf] * (n + 1) for _ in range(k + 1)]
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    best[0][0] = 0
    for w in range(1, k + 1):
        for e in range(w, n - (k - w) + 1):
            for s in range(w - 1, e):
                if best[w - 1][s] == inf:
                    continue
                candidate = best[w - 1][s] + _edit_distance(labels[s:e], references[w - 1])
                if candidate < best[w][e]:
                    best[w][e], cut[w][e] = candidate, s
    sizes, end = [], n
    for w in range(k, 0, -1):
        start = cut[w][end]
        sizes.append(end - start)
        end = start
    return sizes[::-1]


def _build_synthesis(
    audio: np.ndarray,
    sample_rate: int,
    events: Sequence[tuple[int, int, int, int, bytes]],
    tokens: Sequence[_Token],
    pronounce: Callable[[str], Sequence[str]],
) -> Synthesis:
    """Turn the raw event stream into tiled phones (with silences) and phone-derived words.

    Phones follow the word event that precedes them in the stream; word events are matched to the
    text's tokens (:func:`_match_events_to_tokens`); tokens that espeak-ng spoke as one entry share
    their phones, split by :func:`_split_phones`.
    """
    num_samples = int(audio.shape[0])
    word_events: list[int] = []  # text positions of the word events, in stream order
    raw_phones: list[tuple[str, int, int | None]] = []  # (label, onset, word event index | None)
    for kind, position, _length, sample, name in events:
        if kind == _EVENT_WORD:
            word_events.append(position)
            continue
        label = clean_phone_label(_decode_name(name))
        if _LANGUAGE_SWITCH.fullmatch(label):
            continue  # "(en)", "(ja)": espeak-ng switching language for a foreign word, not a phone
        onset = min(max(int(sample), 0), num_samples)
        # A phone before the first word event (not seen in practice) joins the first word.
        raw_phones.append((label, onset, max(len(word_events) - 1, 0)) if label else (SILENCE, onset, None))
    if not word_events and any(event is not None for _, _, event in raw_phones):
        word_events = [tokens[0].position]  # no word events at all: one group of every token

    # Word events -> tokens; tokens without an event join the group of the closest earlier one.
    assignment = _match_events_to_tokens(word_events, [t.position for t in tokens])
    matched = sorted(set(assignment))
    groups: dict[int, list[int]] = {}  # head token -> the tokens of its group, in order
    for j in range(len(tokens)):
        earlier = [t for t in matched if t <= j]
        groups.setdefault(earlier[-1] if earlier else matched[0], []).append(j)
    group_phones: dict[int, list[int]] = {}
    for index, (_label, _onset, event) in enumerate(raw_phones):
        if event is not None:
            group_phones.setdefault(assignment[event], []).append(index)

    # Split groups of merged tokens between their words by isolated pronunciations.
    phone_token: dict[int, int] = {}
    for head, members in groups.items():
        indices = group_phones.get(head, [])
        if not indices:
            continue
        if len(members) == 1:
            sizes = [len(indices)]
        else:
            labels = [raw_phones[i][0] for i in indices]
            sizes = _split_phones(labels, [pronounce(tokens[t].text) for t in members])
        if sizes is None:  # fewer phones than words: keep the group as one word
            for i in indices:
                phone_token[i] = -head - 1
            continue
        position = 0
        for token, size in zip(members, sizes):
            for i in indices[position : position + size]:
                phone_token[i] = token
            position += size

    # Leading silence, monotone onsets, no zero-length phones, one silence per pause.
    items: list[tuple[str, int, int | None]] = []
    if not raw_phones or raw_phones[0][1] > 0:
        items.append((SILENCE, 0, None))
    for index, (label, onset, _event) in enumerate(raw_phones):
        token = None if label == SILENCE else phone_token.get(index)
        items.append((label, max(onset, items[-1][1]) if items else onset, token))
    phones: list[tuple[str, int]] = []
    owners: list[int | None] = []
    for i, (label, onset, token) in enumerate(items):
        end = items[i + 1][1] if i + 1 < len(items) else num_samples
        if end <= onset:
            continue
        if label == SILENCE and phones and phones[-1][0] == SILENCE:
            continue
        phones.append((label, onset))
        owners.append(token)

    # Words from their phones, in order; a merged group (negative key) is one word of its tokens.
    words: list[tuple[str, int]] = []
    phone_words: list[int | None] = []
    word_index: dict[int, int] = {}
    for (_label, onset), token in zip(phones, owners):
        if token is None:
            phone_words.append(None)
            continue
        if token not in word_index:
            if token >= 0:
                text = tokens[token].text
            else:
                text = " ".join(tokens[t].text for t in groups[-token - 1])
            word_index[token] = len(words)
            words.append((text, onset))
        phone_words.append(word_index[token])
    return Synthesis(
        audio=audio, sample_rate=sample_rate, phones=phones, words=words, phone_words=phone_words
    )


__all__ = [
    "PITCH_LIMITS",
    "RATE_LIMITS",
    "SILENCE",
    "STRIPPED_SYMBOLS",
    "EspeakError",
    "EspeakSynthesizer",
    "Synthesis",
    "clean_phone_label",
    "espeak_data_path",
    "list_voice_variants",
]
