"""The sampling step: seeded utterance samples, per-label capped segment samples, TSV files."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from speechrep.data import Manifest, Segment, Utterance
from speechrep.data.errors import ManifestError
from speechrep.data.sampling import (
    SegmentRef,
    check_segments,
    read_segment_list,
    read_utterance_list,
    sample_segments,
    sample_to_folder,
    sample_utterances,
    write_segment_list,
    write_utterance_list,
)
from speechrep.data.synth.corpus import synthesize_corpus
from tests.conftest import run_entry_script


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Manifest]:
    """20 speakers x 2 short sentences over 25 words, so words and phones recur."""
    folder = tmp_path_factory.mktemp("sampling_corpus")
    manifest = synthesize_corpus(
        folder,
        num_speakers=20,
        utterances_per_speaker=2,
        seed=5,
        words_per_sentence=(3, 5),
        vocabulary_size=25,
    )
    return folder, manifest


def counted(manifest: Manifest, kind: str) -> collections.Counter:
    return collections.Counter(s.label for u in manifest for s in u.segments(kind))


def toy_manifest() -> Manifest:
    """Word alignments with known counts: a x12, b x5, c x1 (rare, listed first), plus silences."""
    labels = ["c"] + ["a"] * 12 + ["b"] * 5
    utterances = []
    for u in range(6):
        mine = labels[u * 3 : u * 3 + 3]
        words = [Segment("sil", 0.0, 0.1)] + [
            Segment(w, 0.1 + 0.2 * i, 0.3 + 0.2 * i) for i, w in enumerate(mine)
        ]
        utterances.append(Utterance(f"u{u}", f"/nowhere/u{u}.wav", 16000, 1.0, words=words))
    return Manifest(utterances, name="toy")


def test_caps_are_respected_per_label(corpus):
    _, manifest = corpus
    for kind, cap in (("phone", 6), ("word", 2)):
        refs = sample_segments(manifest, kind, max_per_label=cap, seed=0)
        counts = collections.Counter(r.label for r in refs)
        available = {k: v for k, v in counted(manifest, kind).items() if k != "sil"}
        assert set(counts) == set(available)
        for label, n in available.items():
            assert counts[label] == min(n, cap), label
        assert len(set(refs)) == len(refs)  # without replacement
        assert "sil" not in counts


def test_rare_label_does_not_lower_other_caps():
    manifest = toy_manifest()
    refs = sample_segments(manifest, "word", max_per_label=4, seed=1)
    assert collections.Counter(r.label for r in refs) == {"a": 4, "b": 4, "c": 1}
    alone = sample_segments(manifest, "word", max_per_label=4, labels=["a"], seed=1)
    assert alone == [r for r in refs if r.label == "a"]  # a label's draw ignores the other labels
    everything = sample_segments(manifest, "word", max_per_label=None, seed=1)
    assert collections.Counter(r.label for r in everything) == {"a": 12, "b": 5, "c": 1}


def test_segments_point_at_the_manifest(corpus):
    _, manifest = corpus
    refs = sample_segments(manifest, "word", max_per_label=3, seed=2)
    assert check_segments(manifest, refs, "word") == []
    positions = [(manifest.ids.index(r.utt_id), r.index) for r in refs]
    assert positions == sorted(positions)  # manifest order
    for ref in refs:
        segment = manifest[ref.utt_id].words[ref.index]
        assert (segment.label, segment.start, segment.end) == (ref.label, ref.start, ref.end)
    moved = [SegmentRef(refs[0].utt_id, refs[0].index, refs[0].label, refs[0].start + 0.5, refs[0].end + 0.5)]
    assert "in the manifest but" in check_segments(manifest, moved, "word")[0]
    assert "not in manifest" in check_segments(manifest, [SegmentRef("nope", 0, "x", 0, 1)], "word")[0]


def test_sampling_is_seeded(corpus):
    _, manifest = corpus
    first = sample_segments(manifest, "phone", max_per_label=3, seed=11)
    assert first == sample_segments(manifest, "phone", max_per_label=3, seed=11)
    assert first != sample_segments(manifest, "phone", max_per_label=3, seed=12)
    ids = sample_utterances(manifest, 10, seed=3)
    assert ids == sample_utterances(manifest, 10, seed=3) != sample_utterances(manifest, 10, seed=4)
    assert len(set(ids)) == 10 and ids == [i for i in manifest.ids if i in ids]
    with pytest.raises(ValueError, match="cannot sample 41"):
        sample_utterances(manifest, 41, seed=0)


def test_label_selection_options():
    manifest = toy_manifest()
    assert {r.label for r in sample_segments(manifest, "word", top_k_labels=2, seed=0)} == {"a", "b"}
    assert {r.label for r in sample_segments(manifest, "word", min_per_label=2, seed=0)} == {"a", "b"}
    assert {r.label for r in sample_segments(manifest, "word", exclude=(), seed=0)} == {"a", "b", "c", "sil"}
    assert {r.label for r in sample_segments(manifest, "word", exclude=("a", "sil"), seed=0)} == {"b", "c"}
    with pytest.raises(ManifestError, match="'zzz'"):
        sample_segments(manifest, "word", labels=["a", "zzz"], seed=0)
    with pytest.raises(ValueError, match="segment kind"):
        sample_segments(manifest, "syllable", seed=0)
    with pytest.raises(ValueError, match="max_per_label"):
        sample_segments(manifest, "word", max_per_label=0, seed=0)


def test_segment_list_round_trip(tmp_path, corpus):
    _, manifest = corpus
    refs = sample_segments(manifest, "phone", max_per_label=4, seed=0)
    path = write_segment_list(tmp_path / "lists" / "phones.tsv", refs)
    assert read_segment_list(path) == refs
    lines = path.read_text().splitlines()
    assert lines[0] == "utt_id\tindex\tlabel\tstart\tend" and len(lines) == len(refs) + 1
    assert read_segment_list_without_header(tmp_path, lines) == refs
    assert not list((tmp_path / "lists").glob(".*.tmp"))  # atomic write leaves no temporary file
    (tmp_path / "bad.tsv").write_text("u1\t0\ta\t0.1\n")
    with pytest.raises(ManifestError, match=r"bad.tsv:1: expected 5"):
        read_segment_list(tmp_path / "bad.tsv")
    (tmp_path / "bad2.tsv").write_text("u1\t0\ta\t0.5\t0.1\n")
    with pytest.raises(ManifestError, match="start < end"):
        read_segment_list(tmp_path / "bad2.tsv")
    with pytest.raises(ValueError, match="tab or newline"):
        write_segment_list(tmp_path / "x.tsv", [SegmentRef("u\t1", 0, "a", 0.0, 1.0)])


def read_segment_list_without_header(folder: Path, lines: list[str]) -> list[SegmentRef]:
    (folder / "noheader.tsv").write_text("\n".join(lines[1:]) + "\n")
    return read_segment_list(folder / "noheader.tsv")


def test_utterance_list_round_trip(tmp_path, corpus):
    _, manifest = corpus
    ids = sample_utterances(manifest, 7, seed=1)
    assert read_utterance_list(write_utterance_list(tmp_path / "ids.tsv", ids)) == ids


def test_sample_to_folder(tmp_path, corpus):
    _, manifest = corpus
    written = sample_to_folder(
        manifest, tmp_path, seed=3, max_per_label={"phone": 5, "word": 2}, num_utterances=8
    )
    assert set(written) == {"phone", "word", "utterances"}
    assert written["word"] == tmp_path / "word_segments_seed3.tsv"
    assert read_segment_list(written["word"]) == sample_segments(manifest, "word", max_per_label=2, seed=3)
    assert read_utterance_list(written["utterances"]) == sample_utterances(manifest, 8, seed=3)


def test_sample_segments_script(tmp_path, corpus):
    folder, manifest = corpus
    run_entry_script(
        "sample_segments",
        f"dataset.path={folder / 'manifest.jsonl'}",
        f"out_dir={tmp_path / 'samples'}",
        "max_per_label.word=3",
        "num_utterances=5",
        "seed=2",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    words = read_segment_list(tmp_path / "samples" / "word_segments_seed2.tsv")
    saved = Manifest.load(folder / "manifest.jsonl")  # times as stored (rounded to microseconds)
    assert words == sample_segments(saved, "word", max_per_label=3, top_k_labels=500, seed=2)
    assert [(r.utt_id, r.index) for r in words] == [
        (r.utt_id, r.index) for r in sample_segments(manifest, "word", max_per_label=3, seed=2)
    ]
    assert len(read_utterance_list(tmp_path / "samples" / "utterances_5_seed2.tsv")) == 5
    assert (tmp_path / "samples" / "phone_segments_seed2.tsv").is_file()
