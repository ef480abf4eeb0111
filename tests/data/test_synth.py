"""espeak-ng synthesis: the ctypes binding, the sentence generator and the corpus builder."""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechrep.data import Manifest, load_audio
from speechrep.data.errors import CorpusError
from speechrep.data.manifest import SILENCE_LABELS
from speechrep.data.synth.corpus import (
    DEFAULT_VOICES,
    SpeakerFactors,
    choose_speakers,
    load_speakers,
    synthesize_corpus,
)
from speechrep.data.synth.espeak import (
    STRIPPED_SYMBOLS,
    EspeakError,
    EspeakSynthesizer,
    _match_events_to_tokens,
    _split_phones,
    clean_phone_label,
    list_voice_variants,
)
from speechrep.data.synth.text import DEFAULT_VOCABULARY, SentenceGenerator, load_vocabulary
from tests.conftest import PROJECT_ROOT, run_entry_script

CORPUS = {"num_speakers": 20, "utterances_per_speaker": 1, "words_per_sentence": (3, 5)}
VOWELS = {"iː", "ɪ", "ɛ", "æ", "ɑː", "ɔː", "ʌ", "uː", "ʊ", "eɪ", "aɪ", "oʊ", "aʊ", "ɜː", "ɔ", "ɐ", "ə", "i"}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, tuple[Path, Manifest]]:
    """The same small corpus twice with seed 0, once with seed 1."""
    out = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        folder = tmp_path_factory.mktemp(f"synthetic_{name}")
        out[name] = (folder, synthesize_corpus(folder, seed=seed, **CORPUS))
    return out


def wav_hashes(manifest: Manifest) -> dict[str, str]:
    return {u.id: hashlib.sha256(Path(u.audio_path).read_bytes()).hexdigest() for u in manifest}


def median_f0(audio: np.ndarray, sample_rate: int) -> float:
    """Median autocorrelation pitch of the clearly voiced 40 ms frames (60-400 Hz search)."""
    size, hop = int(0.04 * sample_rate), int(0.02 * sample_rate)
    low, high = int(sample_rate / 400), int(sample_rate / 60)
    estimates = []
    for start in range(0, len(audio) - size, hop):
        frame = audio[start : start + size] - audio[start : start + size].mean()
        if np.sqrt(np.mean(frame**2)) < 0.02:
            continue
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] > 0.5 * corr[0]:
            estimates.append(sample_rate / lag)
    assert len(estimates) >= 10, "too few voiced frames to estimate F0"
    return float(np.median(estimates))


# -- corpus ------------------------------------------------------------------------------------------
def test_corpus_manifest_validates_and_matches_files(corpora):
    folder, manifest = corpora["a"]
    assert len(manifest) == 20 and len(manifest.speakers) == 20
    assert manifest.validate(check_audio=True) == []
    loaded = Manifest.load(folder / "manifest.jsonl")
    assert loaded.ids == manifest.ids and loaded.validate(check_audio=True) == []
    for utt in loaded:
        assert Path(utt.audio_path) == (folder / "wav" / utt.speaker / f"{utt.id}.wav").resolve()
        info = sf.info(utt.audio_path)
        assert info.samplerate == utt.sample_rate == 16000 and info.channels == 1
        assert abs(info.frames / info.samplerate - utt.duration) < 1e-6
        assert [w.label for w in utt.words] == utt.text.split()
        assert 3 <= len(utt.words) <= 5


def test_speaker_factors_are_distinct_labels_and_written(corpora):
    folder, manifest = corpora["a"]
    speakers = load_speakers(folder / "speakers.json")
    assert speakers == load_speakers(folder)
    assert sorted(speakers) == manifest.speakers == [f"spk{i:03d}" for i in range(20)]
    assert len(set(speakers.values())) == 20
    for utt in manifest:
        assert set(utt.labels) == {"voice", "pitch", "rate"}
        assert SpeakerFactors.from_dict(utt.labels) == speakers[utt.speaker]
        assert utt.labels["voice"] in DEFAULT_VOICES
    raw = json.loads((folder / "speakers.json").read_text())
    assert raw["spk000"] == speakers["spk000"].as_dict()


def test_phones_lie_in_their_words_and_tile_the_audio(corpora):
    _, manifest = corpora["a"]
    for utt in manifest:
        assert utt.phones[0].start == 0.0
        assert abs(utt.phones[-1].end - utt.duration) < 1e-6
        for previous, phone in itertools.pairwise(utt.phones):
            assert phone.start == previous.end  # contiguous: a phone ends at the next onset
        for phone in utt.phones:
            assert 0.0 <= phone.start < phone.end <= utt.duration + 1e-9
            owners = [w for w in utt.words if w.start - 1e-9 <= phone.start and phone.end <= w.end + 1e-9]
            if phone.label == "sil":  # silence never splits a word
                assert not any(w.start < phone.start < w.end for w in utt.words)
            else:
                assert len(owners) == 1, (utt.id, phone)
        for word in utt.words:
            assert 0.0 <= word.start < word.end <= utt.duration + 1e-9
            inside = [p for p in utt.phones if word.start <= p.start and p.end <= word.end]
            assert inside and inside[0].start == word.start and inside[-1].end == word.end


def test_phone_labels_are_clean_ipa(corpora):
    labels = collections.Counter(p.label for _, m in corpora.values() for u in m for p in u.phones)
    assert all(label and not set(label) & STRIPPED_SYMBOLS for label in labels)
    assert "sil" in labels and not (set(labels) - {"sil"}) & SILENCE_LABELS
    assert len(labels) >= 25  # a real phone inventory, not a handful of placeholders
    assert labels["sil"] < sum(labels.values()) / 4


def test_alignment_agrees_with_the_acoustics(corpora):
    """Vowels are loud, silences quiet, /s/ noisy: a shifted or scrambled alignment fails this."""
    rms: dict[str, list[float]] = collections.defaultdict(list)
    zcr: dict[str, list[float]] = collections.defaultdict(list)
    for _, manifest in corpora.values():
        for utt in manifest:
            audio = load_audio(utt.audio_path)
            for phone in utt.phones:
                part = audio[int(phone.start * 16000) : int(phone.end * 16000)]
                if len(part) < 48:
                    continue
                group = "vowel" if phone.label in VOWELS else phone.label
                rms[group].append(float(np.sqrt(np.mean(part**2))))
                zcr[group].append(float(np.mean(np.abs(np.diff(np.sign(part))) > 0)))
    assert np.mean(rms["vowel"]) > 10 * np.mean(rms["sil"])
    assert np.mean(zcr["s"]) > 2 * np.mean(zcr["vowel"])


def test_same_seed_gives_identical_audio_other_seed_differs(corpora):
    (_, a), (_, b), (_, c) = corpora["a"], corpora["b"], corpora["c"]
    assert wav_hashes(a) == wav_hashes(b)
    assert [u.to_dict() for u in a] != [] and [(u.text, u.phones, u.labels) for u in a] == [
        (u.text, u.phones, u.labels) for u in b
    ]
    assert set(wav_hashes(a).values()).isdisjoint(wav_hashes(c).values())
    assert [u.text for u in a] != [u.text for u in c]
    assert [u.labels for u in a] != [u.labels for u in c]


def test_parallel_text_and_vocabulary_size(tmp_path):
    manifest = synthesize_corpus(
        tmp_path,
        num_speakers=3,
        utterances_per_speaker=2,
        seed=4,
        words_per_sentence=(3, 3),
        vocabulary_size=12,
        parallel_text=True,
    )
    texts = [[u.text for u in manifest if u.speaker == s] for s in manifest.speakers]
    assert texts[0] == texts[1] == texts[2] and texts[0][0] != texts[0][1]
    vocabulary = set(load_vocabulary()[:12])
    assert {w.label for u in manifest for w in u.words} <= vocabulary
    with pytest.raises(CorpusError, match="no variant 'm99'"):
        synthesize_corpus(tmp_path / "x", 1, 1, voices=["en-us+m99"])


def test_choose_speakers_is_seeded_distinct_and_balanced():
    speakers = choose_speakers(24, seed=3)
    assert speakers == choose_speakers(24, seed=3) != choose_speakers(24, seed=4)
    assert len(set(speakers)) == 24
    per_voice = collections.Counter(s.voice for s in speakers)
    assert set(per_voice) == set(DEFAULT_VOICES) and set(per_voice.values()) == {2}
    assert all(s.pitch % 5 == 0 and 20 <= s.pitch <= 80 and 130 <= s.rate <= 230 for s in speakers)
    full = choose_speakers(
        6,
        seed=0,
        voices=["en-us+m1", "en-us+f1"],
        pitch_range=(40, 60),
        pitch_step=20,
        rate_range=(150, 170),
        rate_step=20,
    )
    assert len(set(full)) == 6  # 2 voices x 2 pitches x 2 rates = 8 combinations
    with pytest.raises(ValueError, match="distinct speakers"):
        choose_speakers(
            9,
            seed=0,
            voices=["en-us+m1", "en-us+f1"],
            pitch_range=(40, 60),
            pitch_step=20,
            rate_range=(150, 170),
            rate_step=20,
        )
    with pytest.raises(ValueError, match="pitch_range"):
        choose_speakers(2, seed=0, pitch_range=(50, 120))


# -- espeak-ng binding ---------------------------------------------------------------------------------
def test_pitch_parameter_changes_f0():
    synthesizer = EspeakSynthesizer()
    text = "the children walked home through the green field"
    f0 = [median_f0(synthesizer.synthesize(text, "en-us+m3", pitch=p).audio, 22050) for p in (10, 50, 90)]
    assert f0[0] * 1.15 < f0[1] and f0[1] * 1.15 < f0[2], f0
    female = median_f0(synthesizer.synthesize(text, "en-us+f2", pitch=50).audio, 22050)
    assert female > 1.4 * f0[1]


def test_rate_parameter_changes_duration():
    synthesizer = EspeakSynthesizer()
    slow = synthesizer.synthesize("open the door and sit on the chair", "en-us", rate=120)
    fast = synthesizer.synthesize("open the door and sit on the chair", "en-us", rate=240)
    assert slow.duration > 1.6 * fast.duration
    assert [label for label, _ in slow.phones if label != "sil"] == [
        label for label, _ in fast.phones if label != "sil"
    ]


def test_synthesis_events_are_consistent():
    synthesis = EspeakSynthesizer().synthesize("the quick brown fox jumps over the lazy dog", "en-us+m1")
    assert synthesis.sample_rate == 22050 and synthesis.audio.dtype == np.float32
    assert 1.0 < synthesis.duration < 5.0 and 0.05 < np.abs(synthesis.audio).max() <= 1.0
    onsets = [onset for _, onset in synthesis.phones]
    assert onsets[0] == 0 and all(a < b < synthesis.num_samples for a, b in itertools.pairwise(onsets))
    spans = synthesis.phone_spans()
    assert sum(end - start for _, start, end in spans) == synthesis.num_samples
    assert [w for w, _ in synthesis.words] == "the quick brown fox jumps over the lazy dog".split()
    labels = [label for label, _ in synthesis.phones]
    assert labels[1:4] == ["ð", "ə", "k"] and "ˈ" not in "".join(labels)
    word_starts = [start for _, start, _ in synthesis.word_spans()]
    assert word_starts == sorted(word_starts) and word_starts == [onset for _, onset in synthesis.words]


def test_merged_and_punctuated_words_map_to_their_tokens():
    """espeak-ng speaks "had been", "must have", "of the" as one dictionary entry (one word event);
    their phones are split between the tokens, and punctuation is not part of a word."""
    synthesizer = EspeakSynthesizer()
    for text in ("came watched had been", "must have but garden who", "so of the water"):
        synthesis = synthesizer.synthesize(text, "en-us")
        assert [w for w, _ in synthesis.words] == text.split()
        spans = synthesis.word_spans()
        assert all(start < end for _, start, end in spans)
    synthesis = synthesizer.synthesize("a man, i said. of the water", "en-us")
    assert [w for w, _ in synthesis.words] == ["a", "man", "i", "said", "of", "the", "water"]
    assert "sil" in [label for label, _ in synthesis.phones[1:-1]]  # the comma's pause


def test_output_does_not_depend_on_what_was_spoken_before():
    synthesizer = EspeakSynthesizer()
    first = synthesizer.synthesize("the bird sang in the tree", "en-us+m2", pitch=40, rate=160)
    synthesizer.synthesize("a very different sentence", "en-us+f4", pitch=90, rate=300)
    again = synthesizer.synthesize("the bird sang in the tree", "en-us+m2", pitch=40, rate=160)
    assert np.array_equal(first.audio, again.audio) and first.phones == again.phones


def test_singleton_is_thread_safe():
    assert EspeakSynthesizer() is EspeakSynthesizer()
    texts = [f"{w} water is cold" for w in ("the", "some", "no", "all", "this", "that")]
    expected = [EspeakSynthesizer().synthesize(t, "en-us+f1").audio for t in texts]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = EspeakSynthesizer().synthesize(texts[i], "en-us+f1").audio

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(results[i], expected[i]) for i in range(len(texts)))


def test_library_is_loaded_lazily():
    code = (
        "import speechrep.data.synth.corpus, speechrep.data.synth.espeak as e\n"
        "assert e.EspeakSynthesizer._instance is None\n"
        "assert not any('espeak' in line for line in open('/proc/self/maps'))\n"
        "assert 'en-us+m3' and 'm3' in e.list_voice_variants()\n"
        "print('lazy')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "lazy" in result.stdout, result.stderr


def test_bad_voice_and_parameters_raise():
    synthesizer = EspeakSynthesizer()
    with pytest.raises(EspeakError, match="no voice 'xx-nothing'"):
        synthesizer.synthesize("hello", "xx-nothing")
    with pytest.raises(EspeakError, match="variant 'q9'"):
        synthesizer.synthesize("hello", "en-us+q9")
    with pytest.raises(EspeakError, match="pitch=120"):
        synthesizer.synthesize("hello", pitch=120)
    with pytest.raises(EspeakError, match="rate=20"):
        synthesizer.synthesize("hello", rate=20)
    with pytest.raises(EspeakError, match="holds no words"):
        synthesizer.synthesize("   ")


def test_voice_variants_and_phonemize():
    variants = list_voice_variants()
    assert {"m1", "m7", "f1", "f5", "klatt", "whisper"} <= set(variants) and variants == sorted(variants)
    assert EspeakSynthesizer().phonemize("water") == ["w", "ɔː", "ɾ", "ɚ"]


def test_label_cleaning_and_alignment_helpers():
    assert (
        clean_phone_label("ˈaɪ") == "aɪ"
        and clean_phone_label("ˌoʊ") == "oʊ"
        and clean_phone_label("iː") == "iː"
    )
    # one event per token: identity, whatever the reported positions
    assert _match_events_to_tokens([1, 5, 6, 14], [1, 5, 9, 14]) == [0, 1, 2, 3]
    # "of the" merged into one event: "the" (position 7) gets none
    assert _match_events_to_tokens([1, 4, 11], [1, 4, 7, 11]) == [0, 1, 3]
    # a token split into two events ("well-known")
    assert _match_events_to_tokens([1, 6, 12], [1, 12]) == [0, 0, 1]
    # "must have" spoken m ʌ s t ɐ v: split against the isolated m ʌ s t | h æ v
    assert _split_phones(["m", "ʌ", "s", "t", "ɐ", "v"], [["m", "ʌ", "s", "t"], ["h", "æ", "v"]]) == [4, 2]
    assert _split_phones(["ə"], [["ə"], ["b"]]) is None


# -- text ------------------------------------------------------------------------------------------------
def test_vocabulary_file():
    words = load_vocabulary()
    assert DEFAULT_VOCABULARY == PROJECT_ROOT / "data_samples" / "vocabulary.txt"
    assert 250 <= len(words) <= 400 and len(set(words)) == len(words)
    assert all(w.isalpha() and w.islower() and w.isascii() for w in words)
    assert {"the", "a", "of", "and", "water", "house"} <= set(words)


def test_vocabulary_errors(tmp_path):
    (tmp_path / "dup.txt").write_text("cat\ndog\ncat\n")
    with pytest.raises(CorpusError, match=r"dup\.txt:3"):
        load_vocabulary(tmp_path / "dup.txt")
    with pytest.raises(CorpusError, match="does not exist"):
        load_vocabulary(tmp_path / "missing.txt")


def test_sentence_generator_is_seeded_balanced_and_bounded():
    sentences = SentenceGenerator(seed=7, words_per_sentence=(2, 6)).sentences(400)
    assert sentences == SentenceGenerator(seed=7, words_per_sentence=(2, 6)).sentences(400)
    assert sentences != SentenceGenerator(seed=8, words_per_sentence=(2, 6)).sentences(400)
    lengths = [len(s.split()) for s in sentences]
    assert min(lengths) == 2 and max(lengths) == 6
    counts = collections.Counter(w for s in sentences for w in s.split())
    assert set(counts) == set(load_vocabulary()) and max(counts.values()) - min(counts.values()) <= 1
    assert not any(a == b for s in sentences for a, b in zip(s.split(), s.split()[1:]))
    with pytest.raises(ValueError, match="words_per_sentence"):
        SentenceGenerator(seed=0, words_per_sentence=(5, 2))


# -- entry script ------------------------------------------------------------------------------------------
def test_synthesize_script_writes_a_manifest(tmp_path):
    out = tmp_path / "corpus"
    stdout = run_entry_script(
        "synthesize",
        f"out_dir={out}",
        "num_speakers=20",
        "utterances_per_speaker=1",
        "words_per_sentence=[3,4]",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert f"manifest: {out}/manifest.jsonl" in stdout and "20 utterances, 20 speakers" in stdout
    manifest = Manifest.load(out / "manifest.jsonl")
    assert len(manifest) == 20 and manifest.validate(check_audio=True) == []
    assert (out / "speakers.json").is_file() and (tmp_path / "run" / ".hydra" / "config.yaml").is_file()


def test_dataset_config_instantiates_the_manifest(corpora):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    folder, manifest = corpora["a"]
    with initialize_config_dir(version_base="1.3", config_dir=str(PROJECT_ROOT / "configs")):
        cfg = compose(
            "synthesize", overrides=[f"paths.data_dir={folder.parent}", f"paths.root_dir={PROJECT_ROOT}"]
        )
        assert cfg.out_dir == f"{folder.parent}/synthetic" and cfg.seed == 0
        dataset = compose(
            "sample_segments",
            overrides=[f"dataset.path={folder}/manifest.jsonl", f"paths.root_dir={PROJECT_ROOT}"],
        ).dataset
    loaded = instantiate(dataset)
    assert isinstance(loaded, Manifest) and loaded.ids == manifest.ids
