"""Word similarity: Spearman's rho between cosine similarities of spoken-word embeddings and human scores.

The training-free word-meaning probe of Pasad et al. 2024 ("What do self-supervised speech models
know about words?", TACL), also used by Pasad et al. 2023 ("Comparative layer-wise analysis of
self-supervised speech models") for layer-wise trends. Per layer:

1. every word instance is a mean-pooled segment of that layer's frames (a ``span="word"`` store);
2. the embedding of a word type w is the mean over its N_w instances, e_w = (1/N_w) sum_i x_i;
3. for every benchmark pair (a, b) with both words present, s_ab = cos(e_a, e_b) =
   e_a.e_b / (||e_a|| ||e_b||) (float64; 0 when either vector is zero);
4. per benchmark, rho_t = Spearman(s, human scores) over its n_t kept pairs (coverage n_t / N_t);
5. macro average = mean_t rho_t; micro average = sum_t n_t rho_t / sum_t n_t (pair-weighted).

The papers use 13 English benchmarks (:data:`ENGLISH_BENCHMARKS`, as in ``vecto-ai/word-benchmarks``).

File formats read by :func:`read_wordsim_benchmark` (one pair per line):

* whitespace-separated ``word1 word2 score`` (RG-65, MC-30, YP-130, MEN's ``sun-n sunlight-n 50``);
* tab-separated with extra columns (SimLex-999 ``word1 word2 POS SimLex999 conc(w1) ...``,
  SimVerb-3500 ``take remove V 6.81 ANTONYMS``, RW ``w1 w2 mean s1 .. s10``), header optional
  (WordSim-353's ``Word 1<TAB>Word 2<TAB>Human (mean)``);
* comma-separated, optionally with the pandas index column of the ``vecto-ai`` CSVs
  (``,word1,word2,similarity`` then ``0,old,new,0.0``): an empty first header field marks it and
  the first column of every row is dropped.

The first two fields are the words; the score is the first field after them that parses as a
number (so SimLex's POS column is skipped and its ``SimLex999`` column is used), unless
``score_column`` (0-based, counted after dropping an index column) names it. A first line without
such a number is a header; blank lines and lines starting with ``#`` are skipped. Words are
lower-cased and MEN's part-of-speech suffixes (``-n``, ``-v``, ``-j``) are stripped by default.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from speechrep.analysis.ranking import spearman

#: The 13 English benchmarks of the papers (file stems in ``vecto-ai/word-benchmarks``,
#: ``word-similarity/monolingual/en``).
ENGLISH_BENCHMARKS = (
    "rw",
    "semeval17",
    "wordsim353-sim",
    "wordsim353-rel",
    "mturk-771",
    "mturk-287",
    "mc-30",
    "rg-65",
    "yp-130",
    "men",
    "simlex999",
    "verb-143",
    "simverb-3500",
)

BENCHMARK_SUFFIXES = (".txt", ".csv", ".tsv", ".tab")

_POS_SUFFIX = re.compile(r"-[nvjar]$")

#: Rows converted to float64 at a time when averaging word instances.
CHUNK_ROWS = 65536


class WordPair(NamedTuple):
    word1: str
    word2: str
    score: float


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _split(line: str) -> list[str]:
    if "\t" in line:
        return [field.strip() for field in line.split("\t")]
    if "," in line:
        return [field.strip() for field in next(csv.reader([line]))]
    return line.split()


def read_wordsim_benchmark(
    path: str | Path,
    *,
    score_column: int | None = None,
    lowercase: bool = True,
    strip_pos: bool = True,
) -> list[WordPair]:
    """Pairs ``(word1, word2, score)`` of one benchmark file, in file order (see the module doc)."""
    path = Path(path)
    pairs: list[WordPair] = []
    index_column = False
    seen_first = False
    with path.open(encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = _split(line)
            first = not seen_first
            seen_first = True
            if first and fields[0] == "" and len(fields) >= 4:
                index_column = True  # pandas-written CSV: ",word1,word2,similarity"
                continue
            if index_column:
                fields = fields[1:]
            if len(fields) < 3:
                raise ValueError(f"{path}:{number}: expected 'word1 word2 score', got {line!r}")
            if score_column is not None:
                if score_column < 2 or score_column >= len(fields):
                    raise ValueError(f"{path}:{number}: no score column {score_column} in {line!r}")
                score = _number(fields[score_column])
            else:
                score = next((v for v in map(_number, fields[2:]) if v is not None), None)
            if score is None:
                if first:
                    continue  # a header line
                raise ValueError(f"{path}:{number}: no numeric score in {line!r}")
            words = []
            for word in fields[:2]:
                word = word.lower() if lowercase else word
                words.append(_POS_SUFFIX.sub("", word) if strip_pos else word)
            pairs.append(WordPair(words[0], words[1], score))
    if not pairs:
        raise ValueError(f"{path}: no word pairs found")
    return pairs


def load_wordsim_benchmarks(
    folder: str | Path,
    names: Sequence[str] | None = None,
    *,
    lowercase: bool = True,
    strip_pos: bool = True,
) -> dict[str, list[WordPair]]:
    """Read benchmarks from ``folder``, keyed by file stem (every ``.txt/.csv/.tsv/.tab`` file, or
    just ``names``, e.g. :data:`ENGLISH_BENCHMARKS`), each with :func:`read_wordsim_benchmark`."""
    folder = Path(folder)
    files = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in BENCHMARK_SUFFIXES}
    wanted = list(names) if names is not None else sorted(files)
    missing = [name for name in wanted if name not in files]
    if missing:
        raise FileNotFoundError(f"{folder}: no benchmark file for {', '.join(missing)}")
    return {
        name: read_wordsim_benchmark(files[name], lowercase=lowercase, strip_pos=strip_pos) for name in wanted
    }


def word_embeddings(
    features: ArrayLike, labels: ArrayLike, *, lowercase: bool = True, chunk_rows: int = CHUNK_ROWS
) -> tuple[list[str], np.ndarray]:
    """Mean feature vector of each word type: ``(sorted words, float64 matrix (words, dim))``.

    ``features`` (rows, dim) holds one mean-pooled segment per row (e.g. a word-span store layer,
    float16 memmap accepted) and ``labels`` the word of each row. Rows are converted to float64
    ``chunk_rows`` at a time and summed per word with a sort plus ``np.add.reduceat``.
    """
    x = features if isinstance(features, np.ndarray) else np.asarray(features)
    words = np.asarray([str(w).lower() if lowercase else str(w) for w in np.asarray(labels).tolist()])
    if x.ndim != 2 or len(x) != len(words):
        raise ValueError(f"features must be (rows, dim) with one label per row; got {x.shape}, {len(words)}")
    if len(x) == 0:
        raise ValueError("no rows")
    vocabulary, codes = np.unique(words, return_inverse=True)
    codes = codes.reshape(-1)
    sums = np.zeros((len(vocabulary), x.shape[1]), dtype=np.float64)
    for start in range(0, len(x), chunk_rows):
        stop = min(start + chunk_rows, len(x))
        chunk_codes = codes[start:stop]
        order = np.argsort(chunk_codes, kind="stable")
        ordered = chunk_codes[order]
        firsts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        rows = np.asarray(x[start:stop], dtype=np.float64)[order]
        sums[ordered[firsts]] += np.add.reduceat(rows, firsts, axis=0)
    sums /= np.bincount(codes, minlength=len(vocabulary))[:, None]
    return vocabulary.tolist(), sums


@dataclass(frozen=True)
class BenchmarkScore:
    name: str
    spearman: float  # NaN when fewer than two pairs are kept or either side is constant
    num_pairs: int  # pairs with both words present
    total_pairs: int

    @property
    def coverage(self) -> float:
        return self.num_pairs / self.total_pairs if self.total_pairs else 0.0


@dataclass(frozen=True)
class WordSimResult:
    """Per-benchmark rho plus the macro (unweighted) and micro (pair-weighted) averages.

    Benchmarks whose rho is NaN are left out of both averages (listed in ``benchmarks`` still).
    """

    benchmarks: dict[str, BenchmarkScore]
    macro: float
    micro: float

    def as_dict(self) -> dict[str, float]:
        """``{"macro average", "micro average", <benchmark>: rho}``, the layout of the papers' tables."""
        out = {"macro average": self.macro, "micro average": self.micro}
        out.update({name: score.spearman for name, score in self.benchmarks.items()})
        return out


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.einsum("ij,ij->i", a, b)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def evaluate_wordsim(
    embeddings: Mapping[str, ArrayLike] | tuple[Sequence[str], ArrayLike],
    benchmarks: Mapping[str, Sequence[tuple[str, str, float]]],
) -> WordSimResult:
    """Spearman's rho of embedding cosines against each benchmark's scores, over covered pairs."""
    if isinstance(embeddings, tuple):
        words, matrix = embeddings
        table = np.asarray(matrix, dtype=np.float64)
        words = list(words)
        if table.ndim != 2 or len(table) != len(words):
            raise ValueError(f"embedding matrix {table.shape} does not match {len(words)} words")
    else:
        words = list(embeddings)
        rows = [np.asarray(embeddings[w], dtype=np.float64) for w in words]
        table = np.asarray(rows) if rows else np.zeros((0, 0))
        if table.ndim != 2:
            raise ValueError("embeddings must all be 1-d vectors of one length")
    position = {w: i for i, w in enumerate(words)}
    scores: dict[str, BenchmarkScore] = {}
    for name, pairs in benchmarks.items():
        kept = [(position[a], position[b], float(s)) for a, b, s in pairs if a in position and b in position]
        rho = float("nan")
        if kept:
            left, right, gold = (np.asarray(column) for column in zip(*kept))
            rho = spearman(_cosine_rows(table[left], table[right]), gold)
        scores[name] = BenchmarkScore(name, rho, len(kept), len(pairs))
    valid = [s for s in scores.values() if not math.isnan(s.spearman)]
    macro = float(np.mean([s.spearman for s in valid])) if valid else float("nan")
    weight = sum(s.num_pairs for s in valid)
    micro = sum(s.num_pairs * s.spearman for s in valid) / weight if weight else float("nan")
    return WordSimResult(scores, macro, float(micro))
