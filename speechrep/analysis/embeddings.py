"""Word-embedding maps (word -> vector) read from files, and the word vectors of segment rows.

The CCA of word segments against word embeddings (Pasad et al. 2021, 2024: GloVe 840B-300d and
acoustically grounded word embeddings, AGWE, of Settle et al. 2019) needs one vector per word type.
Three file formats are read by :func:`read_word_embeddings`:

* **GloVe text** (``.txt``, ``.vec``, optionally gzip-compressed ``.gz``): one ``word v_1 ... v_d``
  per line, space separated. The dimension d comes from the first line; the last d fields are the
  vector and everything before them the word (GloVe 840B has a few words that contain spaces). A
  first line of exactly two integers (the word2vec ``count dim`` header) is skipped.
* **NumPy** ``.npz``: either arrays ``words`` (n,) and ``vectors`` (n, d), or one 1-d array per
  word, keyed by the word (``np.savez(path, **embeddings)``). Read with ``allow_pickle=False``.
* **pickle** (``.pkl``, ``.pickle``): a dict word -> 1-d array, as the reference writes its
  ``glove_embed.pkl``/``agwe_embed.pkl``. Unpickling can run arbitrary code, so only a restricted
  unpickler is used: it rebuilds built-in containers and numpy arrays and refuses every other
  global with a message to convert the file to ``.npz``.

Only the words asked for (``vocabulary``) are kept, so a 2.2M-word GloVe file costs one pass and the
memory of the kept vectors. :func:`row_vectors` then gives each segment row its word's vector,
dropping (and counting) rows whose word has none.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

TEXT_SUFFIXES = (".txt", ".vec")
PICKLE_SUFFIXES = (".pkl", ".pickle")

#: The globals a pickled ``{word: np.ndarray}`` needs (numpy 1.x and 2.x module names).
_SAFE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles
        ("builtins", "dict"),
        ("builtins", "list"),
        ("builtins", "tuple"),
        ("collections", "OrderedDict"),
    }
)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle needs something other than containers and numpy arrays to load."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_GLOBALS:
            raise UnsafePickleError(
                f"refusing to unpickle {module}.{name}: only a dict of words to numpy arrays is read "
                "from pickles; convert the file to .npz (np.savez(path, words=..., vectors=...))"
            )
        return super().find_class(module, name)


@dataclass(frozen=True)
class WordEmbeddings:
    """Vectors of the kept words: ``vectors[i]`` belongs to ``words[i]``; ``dim`` columns."""

    words: tuple[str, ...]
    vectors: np.ndarray  # (words, dim) float32
    path: str

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def read_word_embeddings(
    path: str | os.PathLike, vocabulary: Collection[str] | None = None, *, lowercase: bool = False
) -> WordEmbeddings:
    """The word vectors of a GloVe text, ``.npz`` or pickle file (module docstring), as float32.

    ``vocabulary`` keeps only those words (compared after lower-casing when ``lowercase``; then the
    first occurrence of a word in the file wins, the most frequent casing in GloVe's order).
    Raises ``ValueError`` on vectors of different lengths or non-finite values.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"word-embedding file {path} does not exist")
    wanted = None if vocabulary is None else {_key(w, lowercase) for w in vocabulary}
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".npz"]:
        pairs = _read_npz(path)
    elif suffixes[-1:] and suffixes[-1] in PICKLE_SUFFIXES:
        pairs = _read_pickle(path)
    elif suffixes[-1:] == [".gz"] or (suffixes[-1:] and suffixes[-1] in TEXT_SUFFIXES):
        with _open_text(path) as handle:
            return _collect(path, _read_text(path, handle, wanted, lowercase), None, lowercase)
    else:
        raise ValueError(
            f"{path}: unknown word-embedding format; use GloVe text (.txt/.vec[.gz]), .npz or .pkl"
        )
    return _collect(path, pairs, wanted, lowercase)


def _key(word: str, lowercase: bool) -> str:
    return word.lower() if lowercase else word


def _open_text(path: Path) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def _read_text(path: Path, handle: IO[str], wanted: set[str] | None, lowercase: bool):
    """(word, vector) of the wanted words of a GloVe text file, skipping a word2vec header."""
    dim = None
    for number, raw in enumerate(handle, start=1):
        fields = raw.rstrip("\r\n").split(" ")
        if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
            continue
        if dim is None:
            dim = len(fields) - 1
            if dim < 1:
                raise ValueError(f"{path}:{number}: expected 'word v_1 ... v_d'")
        if len(fields) <= dim:
            raise ValueError(f"{path}:{number}: {len(fields) - 1} values, expected {dim}")
        word = _key(" ".join(fields[:-dim]), lowercase)
        if wanted is not None and word not in wanted:
            continue
        try:
            vector = np.asarray(fields[-dim:], dtype=np.float32)
        except ValueError:
            raise ValueError(f"{path}:{number}: non-numeric vector for {word!r}") from None
        yield word, vector


def _read_npz(path: Path) -> list[tuple[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as data:
        names = set(data.files)
        if {"words", "vectors"} <= names:
            words, vectors = data["words"], data["vectors"]
            if words.ndim != 1 or vectors.ndim != 2 or len(words) != len(vectors):
                raise ValueError(f"{path}: 'words' must be (n,) and 'vectors' (n, d)")
            return [(str(w), v) for w, v in zip(words.tolist(), vectors)]
        return [(name, data[name]) for name in data.files]


def _read_pickle(path: Path) -> list[tuple[str, np.ndarray]]:
    with path.open("rb") as handle:
        table = _RestrictedUnpickler(handle).load()
    if not isinstance(table, dict):
        raise ValueError(f"{path}: the pickle holds a {type(table).__name__}, expected a dict word -> vector")
    return [(str(w), np.asarray(v)) for w, v in table.items()]


def _collect(path: Path, pairs, wanted: set[str] | None, lowercase: bool) -> WordEmbeddings:
    words: list[str] = []
    vectors: list[np.ndarray] = []
    seen: set[str] = set()
    for word, vector in pairs:
        word = _key(word, lowercase)
        if (wanted is not None and word not in wanted) or word in seen:
            continue
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vectors and len(vector) != len(vectors[0]):
            raise ValueError(f"{path}: vector of {word!r} has {len(vector)} values, others {len(vectors[0])}")
        if not np.isfinite(vector).all():
            raise ValueError(f"{path}: vector of {word!r} holds NaN or infinite values")
        seen.add(word)
        words.append(word)
        vectors.append(vector)
    matrix = np.stack(vectors) if vectors else np.zeros((0, 1), dtype=np.float32)
    return WordEmbeddings(tuple(words), matrix, str(path))


@dataclass(frozen=True)
class RowVectors:
    """Rows that have a word vector: ``rows`` (kept row indices) and ``codes`` into the table."""

    rows: np.ndarray  # (kept,) int64, increasing
    codes: np.ndarray  # (kept,) int64 row of ``embeddings.vectors`` for each kept row
    embeddings: WordEmbeddings
    rows_dropped: int
    words_missing: tuple[str, ...]  # word types of the rows without a vector, sorted

    def coverage(self) -> dict[str, Any]:
        kept = len(self.rows)
        return {
            "rows_kept": kept,
            "rows_dropped": self.rows_dropped,
            "row_coverage": kept / (kept + self.rows_dropped) if kept + self.rows_dropped else 0.0,
            "types_missing": len(self.words_missing),
            "missing_examples": list(self.words_missing[:20]),
        }


def row_vectors(
    words: Sequence[str] | np.ndarray, path: str | os.PathLike, *, lowercase: bool = True
) -> RowVectors:
    """The vector of each row's word from the file at ``path``; rows whose word has none are dropped."""
    keys = np.asarray([_key(str(w), lowercase) for w in np.asarray(words).tolist()], dtype=object)
    embeddings = read_word_embeddings(path, set(keys.tolist()), lowercase=lowercase)
    position = embeddings.index()
    codes = np.asarray([position.get(k, -1) for k in keys.tolist()], dtype=np.int64)
    kept = np.flatnonzero(codes >= 0)
    missing = sorted({k for k, c in zip(keys.tolist(), codes.tolist()) if c < 0})
    return RowVectors(kept, codes[kept], embeddings, len(keys) - len(kept), tuple(missing))
