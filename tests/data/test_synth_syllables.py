"""The synthetic CVCVCV corpus: words, syllable boundaries, labels and a word-disjoint split."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from speechrep.data.audio import load_audio
from speechrep.data.errors import CorpusError
from speechrep.data.synth.syllables import WORDS, read_synthetic_syllables, split_words, synthesize_syllables


def test_there_are_729_distinct_cvcvcv_words():
    assert len(WORDS) == len(set(WORDS)) == 729
    assert WORDS[0] == "bababa" and WORDS[-1] == "gugugu"


def test_split_holds_out_whole_words_reproducibly():
    split = split_words(WORDS, 0.2, seed=3)
    assert split == split_words(WORDS, 0.2, seed=3)
    assert sum(v == "test" for v in split.values()) == round(0.2 * 729)
    assert split != split_words(WORDS, 0.2, seed=4)
    with pytest.raises(ValueError, match="test_fraction"):
        split_words(WORDS, 1.0, seed=0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("syllables")
    words = ["babagu", "digudi", "gubadi", "dadada", "bibubi", "gagigu"]
    manifests = synthesize_syllables(root, voices=("it+m1", "it+f2"), words=words, test_fraction=0.34, seed=0)
    return root, manifests


def test_word_and_syllable_clips_with_labels(corpus):
    _, manifests = corpus
    words, syllables = manifests["word"], manifests["syllable"]
    assert len(words) == 12 and len(syllables) == 36
    assert {u.speaker for u in words} == {"spk000", "spk001"}
    utt = words["spk000_babagu"]
    assert [utt.labels[f"syllable_{j}"] for j in (1, 2, 3)] == ["ba", "ba", "gu"]
    spans = utt.labels["syllable_spans"]
    assert all(a < b <= c for (a, b), (c, _) in itertools.pairwise(spans))
    assert 0 <= spans[0][0] and spans[-1][1] <= utt.duration + 1e-6
    clip = syllables["spk000_babagu_3_gu"]
    assert (clip.labels["vowel"], clip.labels["consonant"], clip.labels["position"]) == ("u", "g", 3)
    audio = load_audio(clip.audio_path)
    assert len(audio) == pytest.approx((spans[2][1] - spans[2][0]) * 16000, abs=2)
    assert np.abs(audio).max() > 0.01  # a syllable, not silence


def test_no_word_is_in_both_splits(corpus):
    root, _ = corpus
    for level in ("word", "syllable"):
        train = read_synthetic_syllables(root, level, "train")
        test = read_synthetic_syllables(root, level, "test")
        assert len(train) and len(test)
        assert not {u.labels["word"] for u in train} & {u.labels["word"] for u in test}
    with pytest.raises(CorpusError, match="synthesise the corpus first"):
        read_synthetic_syllables(root / "missing")
