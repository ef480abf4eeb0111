"""Word similarity: the benchmark file variants, per-word means, coverage, and macro/micro averages."""

import math

import numpy as np
import pytest

from speechrep.analysis.wordsim import (
    WordPair,
    evaluate_wordsim,
    load_wordsim_benchmarks,
    read_wordsim_benchmark,
    word_embeddings,
)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_whitespace_pairs_with_comments_blank_lines_and_capitals(tmp_path):
    path = write(tmp_path / "rg-65.txt", "# RG-65\n\nCord  Smile 0.02\ngem\tjewel\t3.94\n")
    assert read_wordsim_benchmark(path) == [WordPair("cord", "smile", 0.02), WordPair("gem", "jewel", 3.94)]
    assert read_wordsim_benchmark(path, lowercase=False)[0].word1 == "Cord"


def test_simlex_header_and_pos_column_use_the_first_numeric_field_or_the_named_one(tmp_path):
    path = write(
        tmp_path / "simlex999.txt",
        "word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\n"
        "old\tnew\tA\t1.58\t2.72\t2.81\n"
        "smart\tintelligent\tA\t9.2\t1.75\t2.46\n",
    )
    assert read_wordsim_benchmark(path) == [
        WordPair("old", "new", 1.58),
        WordPair("smart", "intelligent", 9.2),
    ]
    assert [p.score for p in read_wordsim_benchmark(path, score_column=4)] == [2.72, 1.75]
    with pytest.raises(ValueError, match="no score column 9"):
        read_wordsim_benchmark(path, score_column=9)


def test_wordsim353_header_with_spaces_and_simverb_trailing_text(tmp_path):
    ws = write(tmp_path / "ws.tab", "Word 1\tWord 2\tHuman (mean)\nLove\tsex\t6.77\ntiger\tcat\t7.35\n")
    assert read_wordsim_benchmark(ws) == [WordPair("love", "sex", 6.77), WordPair("tiger", "cat", 7.35)]
    simverb = write(tmp_path / "simverb.txt", "take\tremove\tV\t6.81\tANTONYMS\nwalk\trun\tV\t7.2\tNONE\n")
    assert read_wordsim_benchmark(simverb)[0] == WordPair("take", "remove", 6.81)


def test_vecto_csv_with_index_column_and_men_pos_suffixes(tmp_path):
    vecto = write(
        tmp_path / "mc-30.csv", ",word1,word2,similarity\n0,car,automobile,3.92\n1,gem,jewel,3.84\n"
    )
    assert read_wordsim_benchmark(vecto) == [
        WordPair("car", "automobile", 3.92),
        WordPair("gem", "jewel", 3.84),
    ]
    plain_csv = write(tmp_path / "mturk.csv", "image,surface,2.25\nbear,animal,4.0\n")
    assert read_wordsim_benchmark(plain_csv)[1] == WordPair("bear", "animal", 4.0)
    men = write(tmp_path / "men.txt", "sun-n sunlight-n 50.000000\ncat-n feline-j 48.000000\n")
    assert read_wordsim_benchmark(men) == [WordPair("sun", "sunlight", 50.0), WordPair("cat", "feline", 48.0)]
    assert read_wordsim_benchmark(men, strip_pos=False)[0].word1 == "sun-n"


def test_malformed_lines_name_the_file_and_line(tmp_path):
    with pytest.raises(ValueError, match=r"bad\.txt:2: no numeric score"):
        read_wordsim_benchmark(write(tmp_path / "bad.txt", "a b 1.0\nc d high\n"))
    with pytest.raises(ValueError, match="expected 'word1 word2 score'"):
        read_wordsim_benchmark(write(tmp_path / "short.txt", "a 1.0\n"))
    with pytest.raises(ValueError, match="no word pairs"):
        read_wordsim_benchmark(write(tmp_path / "empty.txt", "# nothing\n"))


def test_load_benchmarks_by_stem(tmp_path):
    write(tmp_path / "a.txt", "x y 1\n")
    write(tmp_path / "b.csv", ",word1,word2,similarity\n0,x,z,2\n")
    write(tmp_path / "notes.md", "not a benchmark")
    assert sorted(load_wordsim_benchmarks(tmp_path)) == ["a", "b"]
    assert load_wordsim_benchmarks(tmp_path, ["b"]) == {"b": [WordPair("x", "z", 2.0)]}
    with pytest.raises(FileNotFoundError, match="simlex999"):
        load_wordsim_benchmarks(tmp_path, ["simlex999"])


def test_word_embeddings_are_per_word_means_from_a_float16_memmap(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.choice(np.array(["Cat", "cat", "dog", "emu", "fox"]), 50)
    x = rng.standard_normal((50, 6)).astype(np.float16)
    np.save(tmp_path / "word.npy", x)
    mapped = np.load(tmp_path / "word.npy", mmap_mode="r")
    words, matrix = word_embeddings(mapped, labels, chunk_rows=7)
    assert words == ["cat", "dog", "emu", "fox"] and matrix.dtype == np.float64
    lowered = np.char.lower(labels.astype(str))
    for i, word in enumerate(words):
        np.testing.assert_allclose(matrix[i], x[lowered == word].astype(np.float64).mean(0), rtol=1e-12)
    cased, _ = word_embeddings(x, labels, lowercase=False)
    assert cased == ["Cat", "cat", "dog", "emu", "fox"]


def angle_embeddings(scores, seed=0):
    """Word pairs (a_i, b_i) whose cosine is cos(theta_i), theta falling as the score rises."""
    rng = np.random.default_rng(seed)
    theta = np.pi / 2 * (1 - (np.asarray(scores) - min(scores)) / (np.ptp(scores) + 1))
    table = {}
    for i, t in enumerate(theta):
        table[f"a{i}"] = rng.uniform(0.5, 3) * np.array([1.0, 0.0])  # the norms do not matter
        table[f"b{i}"] = rng.uniform(0.5, 3) * np.array([np.cos(t), np.sin(t)])
    return table


def test_embeddings_encoding_the_gold_scores_give_rho_one_and_coverage_counts():
    gold = [7.1, 0.3, 5.5, 9.9, 2.0, 4.4]
    table = angle_embeddings(gold)
    pairs = [(f"a{i}", f"b{i}", s) for i, s in enumerate(gold)]
    pairs += [("a0", "unknown", 5.0), ("unseen", "b1", 1.0)]
    result = evaluate_wordsim(table, {"toy": pairs})
    score = result.benchmarks["toy"]
    assert score.spearman == pytest.approx(1.0, abs=1e-12)
    assert (score.num_pairs, score.total_pairs, score.coverage) == (6, 8, 0.75)
    words = list(table)
    as_matrix = evaluate_wordsim((words, np.stack([table[w] for w in words])), {"toy": pairs})
    assert as_matrix.benchmarks == result.benchmarks


def test_macro_and_micro_averages_by_hand():
    # "one": 3 pairs ranked like the gold -> rho 1. "two": 4 pairs, cosine ranks (1, 2, 3, 4) against
    # gold ranks (2, 1, 3, 4): rho = 1 - 6 * 2 / (4 * 15) = 0.8. "none": no covered pair -> NaN, left out.
    table = angle_embeddings([1, 2, 3, 4])
    one = [("a0", "b0", 0.1), ("a1", "b1", 0.2), ("a2", "b2", 0.3)]
    two = [("a0", "b0", 2.0), ("a1", "b1", 1.0), ("a2", "b2", 3.0), ("a3", "b3", 4.0)]
    result = evaluate_wordsim(table, {"one": one, "two": two, "none": [("x", "y", 1.0)]})
    assert result.benchmarks["one"].spearman == pytest.approx(1.0)
    assert result.benchmarks["two"].spearman == pytest.approx(0.8)
    assert math.isnan(result.benchmarks["none"].spearman) and result.benchmarks["none"].coverage == 0.0
    assert result.macro == pytest.approx((1.0 + 0.8) / 2)
    assert result.micro == pytest.approx((3 * 1.0 + 4 * 0.8) / 7)
    assert result.as_dict()["micro average"] == result.micro and set(result.as_dict()) >= {"one", "two"}
