"""Word-embedding readers: GloVe text, npz (two layouts), safe pickles; rows without a vector dropped."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest

from speechrep.analysis.embeddings import UnsafePickleError, read_word_embeddings, row_vectors

TABLE = {"the": [1.0, 0.0, 2.0], "cat": [0.5, -1.0, 3.0], "New York": [0.0, 0.25, -2.0]}


def glove_text(header: bool = False) -> str:
    lines = ["3 3"] if header else []
    lines += [f"{w} " + " ".join(str(v) for v in vec) for w, vec in TABLE.items()]
    lines.append("The 9 9 9")  # a second casing, after the first: lower-casing keeps "the"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("header", [False, True])
def test_glove_text_keeps_words_with_spaces_and_the_first_casing(tmp_path, header):
    path = tmp_path / "glove.txt"
    path.write_text(glove_text(header))
    every = read_word_embeddings(path)
    assert every.words == ("the", "cat", "New York", "The") and every.dim == 3
    lower = read_word_embeddings(path, {"THE", "new york", "dog"}, lowercase=True)
    assert lower.words == ("the", "new york")
    np.testing.assert_array_equal(lower.vectors, np.asarray([TABLE["the"], TABLE["New York"]], np.float32))


def test_gzip_text_and_both_npz_layouts_read_the_same_table(tmp_path):
    with gzip.open(tmp_path / "glove.txt.gz", "wt") as handle:
        handle.write(glove_text())
    np.savez(tmp_path / "pairs.npz", words=np.asarray(list(TABLE)), vectors=np.asarray(list(TABLE.values())))
    np.savez(tmp_path / "keyed.npz", **{w: np.asarray(v) for w, v in TABLE.items()})
    wanted = set(TABLE)
    tables = [
        read_word_embeddings(tmp_path / name, wanted) for name in ("glove.txt.gz", "pairs.npz", "keyed.npz")
    ]
    for table in tables:
        as_dict = dict(zip(table.words, table.vectors.tolist()))
        assert as_dict == TABLE


def test_pickled_dict_loads_but_code_in_a_pickle_is_refused(tmp_path):
    path = tmp_path / "embed.pkl"
    path.write_bytes(pickle.dumps({w: np.asarray(v) for w, v in TABLE.items()}))
    table = read_word_embeddings(path)
    assert dict(zip(table.words, table.vectors.tolist())) == TABLE

    marker = tmp_path / "executed"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"the": Exploit()}))
    with pytest.raises(UnsafePickleError, match=r"convert the file to \.npz"):
        read_word_embeddings(evil)
    assert not marker.exists()


def test_bad_files_fail_with_the_file_named(tmp_path):
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match=r"ragged\.txt:2"):
        read_word_embeddings(ragged)
    with pytest.raises(ValueError, match="unknown word-embedding format"):
        (tmp_path / "vectors.bin").write_bytes(b"\0")
        read_word_embeddings(tmp_path / "vectors.bin")


def test_row_vectors_drop_and_count_rows_without_a_vector(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text(glove_text())
    rows = row_vectors(["The", "dog", "cat", "the", "dog", "bird"], path)
    np.testing.assert_array_equal(rows.rows, [0, 2, 3])
    assert [rows.embeddings.words[c] for c in rows.codes] == ["the", "cat", "the"]
    assert rows.rows_dropped == 3 and rows.words_missing == ("bird", "dog")
    coverage = rows.coverage()
    assert coverage["rows_kept"] == 3 and coverage["row_coverage"] == pytest.approx(0.5)
    assert coverage["types_missing"] == 2
