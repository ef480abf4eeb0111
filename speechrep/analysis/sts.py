"""Spoken semantic textual similarity (STS): do utterance vectors of a layer rank sentence pairs like people?

The training-free sentence-level probe of Pasad et al. 2024 ("What do self-supervised speech
models know about words?", TACL), after Merkx et al.'s spoken STS set: each sentence of a pair is
spoken by several speakers. Per layer:

1. utterance vector u = (1/T) sum_t h_t, the mean of the utterance's T frames;
2. for a sentence pair p with speaker pairings P_p = {(a_1, b_1), ...} (16 in the spoken STS set),
   s_p = (1/|P_p|) sum_{(a,b) in P_p} cos(u_a, u_b), cos(x, y) = x.y / (||x|| ||y||) in float64;
3. score = Spearman's rho between (s_p) and the human similarity scores (g_p).

On-disk format of a spoken STS set (:func:`read_sts_pairs`, :func:`write_sts_pairs`): a UTF-8,
tab-separated file with one row per speaker pairing::

    pair_id<TAB>utt_a<TAB>utt_b<TAB>score
    p0001<TAB>spk1_s0001a<TAB>spk2_s0001b<TAB>3.8
    p0001<TAB>spk1_s0001a<TAB>spk3_s0001b<TAB>3.8

``utt_a``/``utt_b`` are manifest utterance ids (:class:`speechrep.data.Manifest`); all rows of one
``pair_id`` carry the same gold ``score``. The header line is optional; blank lines and lines
starting with ``#`` are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from speechrep.analysis.ranking import spearman
from speechrep.utils.io import atomic_write_text

#: Rows converted to float64 at a time when averaging frames.
CHUNK_ROWS = 65536

HEADER = ("pair_id", "utt_a", "utt_b", "score")


@dataclass(frozen=True)
class STSPair:
    """One sentence pair: its gold score and the (utt_a, utt_b) speaker pairings that realise it."""

    pair_id: str
    score: float
    pairings: tuple[tuple[str, str], ...]


def read_sts_pairs(path: str | Path) -> list[STSPair]:
    """Sentence pairs of a spoken STS file (format in the module doc), in order of first appearance."""
    path = Path(path)
    scores: dict[str, float] = {}
    pairings: dict[str, list[tuple[str, str]]] = {}
    first = True
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = [field.strip() for field in line.split("\t")]
            if first and tuple(f.lower() for f in fields) == HEADER:
                first = False
                continue
            first = False
            if len(fields) != 4 or not all(fields[:3]):
                raise ValueError(f"{path}:{number}: expected 'pair_id<TAB>utt_a<TAB>utt_b<TAB>score'")
            pair_id, utt_a, utt_b, text = fields
            try:
                score = float(text)
            except ValueError:
                raise ValueError(f"{path}:{number}: score {text!r} is not a number") from None
            if not math.isfinite(score):
                raise ValueError(f"{path}:{number}: score {text!r} is not finite")
            if pair_id in scores and not math.isclose(scores[pair_id], score, rel_tol=1e-9, abs_tol=1e-12):
                earlier = scores[pair_id]
                raise ValueError(
                    f"{path}:{number}: pair {pair_id!r} has score {score}, earlier rows {earlier}"
                )
            scores.setdefault(pair_id, score)
            pairings.setdefault(pair_id, []).append((utt_a, utt_b))
    if not scores:
        raise ValueError(f"{path}: no sentence pairs found")
    return [STSPair(pid, scores[pid], tuple(pairings[pid])) for pid in scores]


def write_sts_pairs(path: str | Path, pairs: Sequence[STSPair]) -> Path:
    """Write ``pairs`` in the format :func:`read_sts_pairs` reads (with a header), atomically."""
    lines = ["\t".join(HEADER)]
    for pair in pairs:
        for utt_a, utt_b in pair.pairings:
            for field in (pair.pair_id, utt_a, utt_b):
                if any(c in field for c in "\t\r\n") or not field:
                    raise ValueError(
                        f"pair {pair.pair_id!r}: field {field!r} is empty or holds a tab/newline"
                    )
            lines.append(f"{pair.pair_id}\t{utt_a}\t{utt_b}\t{float(pair.score)!r}")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)


# -- utterance vectors -----------------------------------------------------------------------------
def utterance_means(
    features: ArrayLike, offsets: ArrayLike, chunk_rows: int = CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Mean row of each utterance: ``(means (U, dim) float64, non-empty mask (U,))``.

    Utterance i owns rows ``offsets[i]:offsets[i + 1]``. Blocks of whole utterances of at most
    ``chunk_rows`` rows (or one longer utterance) are converted to float64 and summed with
    ``np.add.reduceat`` at the starts of their non-empty utterances; empty utterances (no rows)
    get a zero vector and ``False`` in the mask.
    """
    x = features if isinstance(features, np.ndarray) else np.asarray(features)
    bounds = np.asarray(offsets, dtype=np.int64)
    if x.ndim != 2:
        raise ValueError(f"features must be (rows, dim), got shape {x.shape}")
    if bounds.ndim != 1 or len(bounds) < 1:
        raise ValueError("offsets must be a 1-d array of num_utterances + 1 row positions")
    lengths = np.diff(bounds)
    if (lengths < 0).any() or bounds[0] < 0 or bounds[-1] > len(x):
        raise ValueError(f"offsets must be non-decreasing within [0, {len(x)}]")
    count = len(lengths)
    means = np.zeros((count, x.shape[1]), dtype=np.float64)
    u = 0
    while u < count:
        v = int(np.searchsorted(bounds, bounds[u] + chunk_rows, side="right")) - 1
        v = min(max(v, u + 1), count)
        low, high = bounds[u], bounds[v]
        filled = np.flatnonzero(lengths[u:v] > 0)
        if len(filled):
            block = np.asarray(x[low:high], dtype=np.float64)
            sums = np.add.reduceat(block, bounds[u:v][filled] - low, axis=0)
            means[u + filled] = sums / lengths[u + filled][:, None]
        u = v
    return means, lengths > 0


class _FrameStore(Protocol):
    span: str
    utterance_ids: list[str]

    def features(self, layer: str) -> np.ndarray: ...

    def offsets(self, layer: str) -> np.ndarray: ...


def utterance_vectors_from_store(
    store: _FrameStore, layer: str, *, chunk_rows: int = CHUNK_ROWS
) -> dict[str, np.ndarray]:
    """``{utterance id: mean of its frames}`` (float64) for one layer of a frame-span store.

    Utterances without frames are left out (they then count as ``missing`` in :func:`evaluate_sts`).
    """
    if store.span not in ("frame", "utterance"):
        raise ValueError(
            f"utterance vectors need a frame-span store (mean of all frames), not span {store.span!r}"
        )
    ids = store.utterance_ids
    offsets = store.offsets(layer)
    if len(offsets) != len(ids) + 1:
        raise ValueError(f"layer {layer!r}: {len(offsets)} offsets for {len(ids)} utterances")
    means, filled = utterance_means(store.features(layer), offsets, chunk_rows)
    return {utt: means[i] for i, utt in enumerate(ids) if filled[i]}


# -- the score -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class STSResult:
    spearman: float  # rho(predicted, gold); NaN with fewer than two scored items
    num_pairs: int  # sentence pairs with at least one usable pairing
    num_pairings: int  # speaker pairings used
    missing: int  # pairings skipped because an utterance has no vector
    predicted: tuple[float, ...] = ()  # cosine per scored item (pair, or pairing if not averaged)
    gold: tuple[float, ...] = ()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norm if norm > 0 else 0.0


def evaluate_sts(
    utterance_vectors: Mapping[str, Any] | tuple[Sequence[str], ArrayLike],
    pairs: Sequence[STSPair],
    *,
    average_pairings: bool = True,
) -> STSResult:
    """Spearman's rho between (pairing-averaged) cosine similarities and gold scores.

    ``utterance_vectors`` maps utterance ids to vectors (or is ``(ids, matrix)``). Pairings with a
    missing utterance are skipped and counted; a pair is scored on its remaining pairings.
    ``average_pairings=False`` scores every pairing as its own item against its pair's gold score.
    """
    if isinstance(utterance_vectors, tuple):
        ids, matrix = utterance_vectors
        table = np.asarray(matrix, dtype=np.float64)
        if table.ndim != 2 or len(table) != len(ids):
            raise ValueError(f"vector matrix {table.shape} does not match {len(ids)} ids")
        vectors: Mapping[str, Any] = dict(zip(ids, table))
    else:
        vectors = utterance_vectors
    predicted: list[float] = []
    gold: list[float] = []
    num_pairs = num_pairings = missing = 0
    for pair in pairs:
        cosines = []
        for utt_a, utt_b in pair.pairings:
            if utt_a not in vectors or utt_b not in vectors:
                missing += 1
                continue
            a = np.asarray(vectors[utt_a], dtype=np.float64)
            b = np.asarray(vectors[utt_b], dtype=np.float64)
            cosines.append(_cosine(a, b))
        if not cosines:
            continue
        num_pairs += 1
        num_pairings += len(cosines)
        if average_pairings:
            predicted.append(float(np.mean(cosines)))
            gold.append(pair.score)
        else:
            predicted.extend(cosines)
            gold.extend([pair.score] * len(cosines))
    rho = spearman(predicted, gold) if len(predicted) >= 2 else float("nan")
    return STSResult(rho, num_pairs, num_pairings, missing, tuple(predicted), tuple(gold))
