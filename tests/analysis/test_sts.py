"""Spoken STS: the pair file, reduceat utterance means, averaging over pairings, perfect and random scores."""

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from speechrep.analysis.sts import (
    STSPair,
    evaluate_sts,
    read_sts_pairs,
    utterance_means,
    utterance_vectors_from_store,
    write_sts_pairs,
)


def test_pair_file_round_trip_header_comments_and_errors(tmp_path):
    path = tmp_path / "sts.tsv"
    path.write_text(
        "# spoken STS, two speakers per sentence\n"
        "p1\tA_s1\tB_s1\t3.8\n"
        "p1\tA_s1\tC_s1\t3.8\n"
        "\n"
        "p0\tA_s2\tB_s2\t0.5\n",
        encoding="utf-8",
    )
    pairs = read_sts_pairs(path)
    assert pairs == [
        STSPair("p1", 3.8, (("A_s1", "B_s1"), ("A_s1", "C_s1"))),
        STSPair("p0", 0.5, (("A_s2", "B_s2"),)),
    ]
    written = write_sts_pairs(tmp_path / "copy.tsv", pairs)
    assert written.read_text().splitlines()[0] == "pair_id\tutt_a\tutt_b\tscore"
    assert read_sts_pairs(written) == pairs
    bad = tmp_path / "bad.tsv"
    bad.write_text("p1\ta\tb\t3.8\np1\ta\tc\t2.0\n")
    with pytest.raises(ValueError, match=r"bad\.tsv:2: pair 'p1' has score 2\.0"):
        read_sts_pairs(bad)
    bad.write_text("p1 a b 3.8\n")
    with pytest.raises(ValueError, match="expected 'pair_id"):
        read_sts_pairs(bad)
    bad.write_text("p1\ta\tb\tsimilar\n")
    with pytest.raises(ValueError, match="not a number"):
        read_sts_pairs(bad)


def test_reduceat_means_equal_a_loop_with_empty_and_long_utterances(tmp_path):
    rng = np.random.default_rng(0)
    lengths = [0, 3, 0, 0, 11, 1, 0, 5, 2, 0]  # leading, consecutive and trailing empties; 11 > chunk
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    x = rng.standard_normal((offsets[-1], 4)).astype(np.float16)
    np.save(tmp_path / "frames.npy", x)
    mapped = np.load(tmp_path / "frames.npy", mmap_mode="r")
    for chunk_rows in (1, 4, 7, 1000):
        means, filled = utterance_means(mapped, offsets, chunk_rows=chunk_rows)
        assert filled.tolist() == [n > 0 for n in lengths]
        for i in range(len(lengths)):
            start, stop = offsets[i], offsets[i + 1]
            expected = x[start:stop].astype(np.float64).mean(0) if stop > start else np.zeros(4)
            np.testing.assert_allclose(means[i], expected, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="non-decreasing"):
        utterance_means(x, [0, 5, 3, 22])


@dataclass
class FakeStore:
    frames: np.ndarray
    bounds: np.ndarray
    utterance_ids: list[str]
    span: str = "frame"
    asked: list[str] = field(default_factory=list)

    def features(self, layer):
        self.asked.append(layer)
        return self.frames

    def offsets(self, layer):
        return self.bounds


def test_vectors_from_a_store_leave_out_empty_utterances():
    x = np.arange(12, dtype=np.float16).reshape(6, 2)
    store = FakeStore(x, np.array([0, 2, 2, 6]), ["u0", "u1", "u2"])
    vectors = utterance_vectors_from_store(store, "transformer_3")
    assert sorted(vectors) == ["u0", "u2"] and store.asked == ["transformer_3"]
    np.testing.assert_array_equal(vectors["u0"], [1.0, 2.0])  # mean of (0, 1), (2, 3)
    np.testing.assert_array_equal(vectors["u2"], [7.0, 8.0])  # mean of rows 2..5
    with pytest.raises(ValueError, match="frame-span"):
        utterance_vectors_from_store(FakeStore(x, np.array([0, 6]), ["u0"], span="word"), "layer")


def pairs_with_cosines(cosines_per_pair, gold, seed=0):
    """Vectors realising the given cosines for each pairing (two speakers of sentence b per pair)."""
    rng = np.random.default_rng(seed)
    vectors, pairs = {}, []
    for i, (cosines, score) in enumerate(zip(cosines_per_pair, gold)):
        vectors[f"a{i}"] = rng.uniform(0.5, 2) * np.array([1.0, 0.0, 0.0])
        pairings = []
        for j, c in enumerate(cosines):
            vectors[f"b{i}_{j}"] = rng.uniform(0.5, 2) * np.array([c, math.sqrt(1 - c * c), 0.0])
            pairings.append((f"a{i}", f"b{i}_{j}"))
        pairs.append(STSPair(f"p{i}", score, tuple(pairings)))
    return vectors, pairs


def test_cosines_following_the_gold_give_rho_one_and_pairings_are_averaged():
    gold = [4.2, 0.1, 2.5, 3.3, 1.0]
    # each pair's pairings spread around a centre that rises with the gold score
    centres = 0.9 * (np.array(gold) / 5) - 0.2
    cosines = [(c - 0.05, c + 0.05, c) for c in centres]
    vectors, pairs = pairs_with_cosines(cosines, gold)
    result = evaluate_sts(vectors, pairs)
    assert result.spearman == pytest.approx(1.0, abs=1e-12)
    assert (result.num_pairs, result.num_pairings, result.missing) == (5, 15, 0)
    np.testing.assert_allclose(result.predicted, centres, atol=1e-12)
    # one pairing at cosine 1 and one at 0 average to 0.5
    halves, pair = pairs_with_cosines([(1.0, 0.0)], [3.0])
    assert evaluate_sts(halves, pair).predicted == pytest.approx((0.5,))
    flat = evaluate_sts(vectors, pairs, average_pairings=False)
    assert len(flat.predicted) == 15 and flat.gold[:3] == (4.2, 4.2, 4.2)


def test_missing_utterances_are_skipped_and_counted():
    vectors, pairs = pairs_with_cosines([(0.9, 0.7), (0.1,), (0.5,)], [5.0, 1.0, 3.0])
    del vectors["b0_1"]  # pair 0 keeps one pairing
    del vectors["a1"]  # pair 1 loses its only pairing
    result = evaluate_sts(vectors, pairs)
    assert (result.num_pairs, result.num_pairings, result.missing) == (2, 2, 2)
    assert result.predicted == pytest.approx((0.9, 0.5)) and result.gold == (5.0, 3.0)
    ids = sorted(vectors)
    as_matrix = evaluate_sts((ids, np.stack([vectors[i] for i in ids])), pairs)
    assert as_matrix == result
    assert math.isnan(evaluate_sts({}, pairs).spearman)


def test_random_vectors_score_near_zero():
    rng = np.random.default_rng(0)
    vectors = {f"u{i}": rng.standard_normal(16) for i in range(400)}
    pairs = [
        STSPair(
            f"p{k}",
            float(rng.uniform(0, 5)),
            ((f"u{4 * k}", f"u{4 * k + 1}"), (f"u{4 * k + 2}", f"u{4 * k + 3}")),
        )
        for k in range(100)
    ]
    result = evaluate_sts(vectors, pairs)
    assert result.num_pairs == 100 and abs(result.spearman) < 0.3
