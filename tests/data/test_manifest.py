"""Manifest: records, JSON Lines round trip, validation messages, filtering and seeded splits."""

import json

import numpy as np
import pytest

from speechrep.data import Manifest, ManifestError, Segment, Utterance, save_audio


def make_utt(i: int, speaker: str = "s1", duration: float = 1.0, **kwargs) -> Utterance:
    return Utterance(
        id=f"u{i}",
        audio_path=f"/corpus/u{i}.wav",
        sample_rate=16000,
        duration=duration,
        speaker=speaker,
        **kwargs,
    )


def test_round_trip_keeps_every_field_and_relative_paths(tmp_path):
    wav = tmp_path / "audio" / "a.wav"
    save_audio(wav, np.zeros(1600, np.float32), 16000)
    utt = Utterance(
        id="a",
        audio_path=str(wav),
        sample_rate=16000,
        duration=0.1,
        speaker="spk",
        text="hi there",
        phones=[Segment("h", 0.0, 0.03), Segment("aɪ", 0.03, 0.05)],
        words=[("hi", 0.0, 0.05)],
        labels={"emotion": "neu", "valence": 2.5},
    )
    path = Manifest([utt], name="m").save(tmp_path / "m.jsonl")
    record = json.loads(path.read_text())
    assert record["audio_path"] == "audio/a.wav"  # stored relative to the manifest
    loaded = Manifest.load(path)
    assert loaded[0] == utt  # absolute again on load
    assert loaded.validate(check_audio=True) == []


def test_load_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "audio_path": "a.wav", "sample_rate": 16000, "duration": 1}\n{oops\n')
    with pytest.raises(ManifestError, match=r"bad\.jsonl:2: not valid JSON"):
        Manifest.load(path)
    path.write_text('{"id": "a", "audio_path": "a.wav", "duration": 1}\n')
    with pytest.raises(ManifestError, match=r"bad\.jsonl:1: missing fields \['sample_rate'\]"):
        Manifest.load(path)
    path.write_text('{"id": "a", "audio_path": "a.wav", "sample_rate": 1, "duration": 1, "spk": 1}\n')
    with pytest.raises(ManifestError, match=r"unknown fields \['spk'\]"):
        Manifest.load(path)
    with pytest.raises(ManifestError, match="does not exist"):
        Manifest.load(tmp_path / "nope.jsonl")


def test_duplicate_ids_rejected():
    with pytest.raises(ManifestError, match="duplicate utterance id 'u1'"):
        Manifest([make_utt(1), make_utt(1)])


def test_validate_flags_each_alignment_problem():
    utt = make_utt(
        1,
        duration=1.0,
        phones=[("a", 0.0, 0.2), ("b", 0.3, 0.25), ("c", 0.9, 1.5), ("d", 0.1, 0.2)],
        words=[("w", 0.0, 0.5)],
    )
    problems = Manifest([utt]).validate()
    text = "\n".join(problems)
    assert "phones[1] 'b' [0.300, 0.250]: start must be before end" in text
    assert "phones[2] 'c' [0.900, 1.500]: outside the audio" in text
    assert "phones[3] 'd' [0.100, 0.200]: overlaps or precedes" in text
    assert "phones[2] 'c' [0.900, 1.500] lies in no word" in text
    with pytest.raises(ManifestError, match="u1: phones"):
        Manifest([utt]).check()
    # silence outside words is allowed; a clean record has no problems
    ok = make_utt(2, phones=[("sil", 0.0, 0.1), ("a", 0.1, 0.3)], words=[("w", 0.1, 0.3)])
    assert Manifest([ok]).validate() == []


def test_validate_with_audio_catches_missing_file_and_wrong_duration(tmp_path):
    save_audio(tmp_path / "a.wav", np.zeros(8000, np.float32), 16000)
    good = Utterance("a", str(tmp_path / "a.wav"), 16000, 0.5)
    wrong = Utterance("b", str(tmp_path / "a.wav"), 16000, 2.0)
    missing = Utterance("c", str(tmp_path / "c.wav"), 16000, 1.0)
    problems = Manifest([good, wrong, missing]).validate(check_audio=True)
    assert len(problems) == 2
    assert "b: duration field 2.000s" in problems[0]
    assert "c.wav does not exist" in problems[1]


def test_split_by_speaker_is_disjoint_covering_and_seeded():
    utts = [make_utt(i, speaker=f"s{i % 10}") for i in range(100)]
    manifest = Manifest(utts, name="m")
    parts = manifest.split({"train": 0.8, "test": 0.2}, seed=3)
    train_spk = {u.speaker for u in parts["train"]}
    test_spk = {u.speaker for u in parts["test"]}
    assert not train_spk & test_spk
    assert len(train_spk) == 8 and len(test_spk) == 2
    assert sorted(parts["train"].ids + parts["test"].ids) == sorted(manifest.ids)
    again = manifest.split({"train": 0.8, "test": 0.2}, seed=3)
    assert again["test"].ids == parts["test"].ids
    other = [manifest.split({"train": 0.8, "test": 0.2}, seed=s)["test"].speakers for s in range(10)]
    assert len({tuple(o) for o in other}) > 1  # the seed matters
    with pytest.raises(ValueError, match="sum to 1"):
        manifest.split({"a": 0.5, "b": 0.4}, seed=0)


def test_filter_select_sample():
    manifest = Manifest([make_utt(i, duration=i + 1) for i in range(10)])
    assert manifest.filter(lambda u: u.duration > 5).ids == ["u5", "u6", "u7", "u8", "u9"]
    assert manifest.select(["u3", "u1"]).ids == ["u3", "u1"]
    with pytest.raises(KeyError, match="no utterance 'x'"):
        manifest["x"]
    sample = manifest.sample(4, seed=1)
    assert len(sample) == 4 and sample.ids == sorted(sample.ids, key=lambda s: int(s[1:]))
    assert manifest.sample(4, seed=1).ids == sample.ids


def test_content_hash_changes_with_any_field():
    base = Manifest([make_utt(1, phones=[("a", 0.0, 0.5)])])
    same = Manifest([make_utt(1, phones=[("a", 0.0, 0.5)])])
    moved = Manifest([make_utt(1, phones=[("a", 0.0, 0.4)])])
    assert base.content_hash() == same.content_hash() != moved.content_hash()
