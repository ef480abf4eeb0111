"""ABX phone discrimination with frame-wise angular distance and DTW (ZeroSpeech conventions).

The ABX error (Schatz et al. 2013, "Evaluating speech features with the minimal-pair ABX task")
asks how often a token ``x`` of category A is closer to a token ``b`` of category B than to another
token ``a`` of A:

    e(A, B) = 1 / |T| Σ_{(a, b, x) ∈ T} ( 1[d(a, x) > d(b, x)] + ½ · 1[d(a, x) = d(b, x)] )

over triplets ``T`` with ``a, x ∈ A`` (``a ≠ x``), ``b ∈ B``. As in ZeroSpeech 2021 (Nguyen et al. 2020)
and its libri-light implementation (``eval/eval_ABX.py``), an *item* is one phone segment: the frames
``[floor(start / hop), ceil(end / hop))`` of its utterance
(:func:`speechrep.upstream.frames.segment_to_frames`; libri-light keeps the frames
``ceil(start/hop - ½) … floor(end/hop - ½) - 1`` instead). The distance between two items is the
cost of the cheapest DTW alignment of their frame sequences under the frame-wise angular distance,
divided by the number of cells on that alignment path:

    δ(u, v) = arccos( u·v / (‖u‖ ‖v‖) ) / π  ∈ [0, 1]
    d(a, x) = Σ_{(i,j) ∈ π*} δ(a_i, x_j) / |π*|,     π* = argmin_π Σ_{(i,j) ∈ π} δ(a_i, x_j)

with steps (1, 0), (0, 1), (1, 1); on equal costs the path prefers the diagonal, then the step along
the second sequence, as libri-light's ``dtw.pyx``. An all-zero frame is at distance 1 from any
other frame and 0 from another zero frame (libri-light's ``normalize_with_singularity``).

**Conditions.** ``context="triphone"``: A, B, X share the previous and next phone labels (minimal
pairs such as b-*a*-g / b-*e*-g); ``context="phone"``: no context condition. Speaker:
``mode="within"``: A, B and X come from one speaker; ``mode="across"``: A and B from one speaker,
X (of category A, same context) from another, at most ``max_x_speakers`` other speakers drawn per
(context, speaker, A). Silence labels are never items (they may be context).

**Averaging order** (that of libri-light's ``eval_ABX.py``, which ZeroSpeech 2021 reports). Each
group (context c, speaker s of A and B, speaker s_x of X, categories A ≠ B) gets its error e as
above. Then: (1) average over the context (and, across speakers, over the X speaker) for each
(s, A, B); (2) average over the speakers s for each ordered pair (A, B); (3) average over all ordered
pairs (A, B) that have a score. Each (c, s, A) cell is subsampled to ``max_items_per_cell`` items
(libri-light's ``max_size_group``; it redraws that sample for every group, this module draws it once
with ``seed``, so results are reproducible).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from speechrep.data.manifest import SILENCE_LABELS, Manifest
from speechrep.upstream.frames import segment_to_frames

if TYPE_CHECKING:
    from speechrep.store import FeatureStore

Mode = Literal["within", "across"]
Context = Literal["triphone", "phone"]

#: Context label of a phone at an utterance edge (no previous or next phone).
EDGE = "#"

#: Cells of a frame-distance tile, and of the padded DTW tables solved in one batch (float64).
BATCH_ELEMENTS = 1 << 22


# ---------------------------------------------------------------------------------------------------
# Distances
def angular_distance(a: Tensor, b: Tensor) -> Tensor:
    """Frame-wise angular distance ``arccos(cos(a_i, b_j)) / π``: ``(..., N, D), (..., M, D) -> (..., N, M)``.

    The cosine is computed in the inputs' dtype, the arccos in float64 (the result's dtype). Zero
    frames are at distance 1 from non-zero ones and 0 from each other.
    """
    norm_a, norm_b = a.norm(dim=-1), b.norm(dim=-1)
    tiny = torch.finfo(a.dtype).tiny
    cos = (a / norm_a.clamp_min(tiny)[..., None]) @ (b / norm_b.clamp_min(tiny)[..., None]).transpose(-1, -2)
    zero_a, zero_b = (norm_a == 0)[..., :, None], (norm_b == 0)[..., None, :]
    cos = torch.where(zero_a | zero_b, torch.where(zero_a & zero_b, 1.0, -1.0).to(cos.dtype), cos)
    return torch.arccos(cos.to(torch.float64).clamp(-1.0, 1.0)) / math.pi


def dtw_batch(distances: Tensor, lengths_a: Tensor | np.ndarray, lengths_b: Tensor | np.ndarray) -> Tensor:
    """Path-length-normalised DTW costs of a batch of padded distance matrices.

    ``distances`` (B, N, M) holds ``δ(a_i, b_j)`` for item pairs padded to N × M; ``lengths_a`` and
    ``lengths_b`` (B,) are the true lengths. The recursion, with ``C(-1, -1) = 0`` and every other
    cell outside the matrix at ∞:

        C(i, j) = δ(i, j) + min( C(i-1, j-1), C(i, j-1), C(i-1, j) )
        P(i, j) = P(predecessor) + 1        (the number of cells on the path)

    On ties the predecessor is the diagonal, then the step along ``b``, then along ``a``, which
    reproduces the path libri-light's backtracking finds. Cells of one anti-diagonal ``i + j = k``
    do not depend on each other, so the loop runs over the N + M - 1 anti-diagonals, each a vector
    over the batch and over ``i``: the matrices are first skewed to ``S[k, i] = δ(i, k - i)``
    (∞ where ``k - i`` is outside ``[0, M)``), and cell ``(i, k - i)`` then finds its diagonal
    predecessor at ``i - 1`` on anti-diagonal ``k - 2``, and the two others at ``i`` and ``i - 1`` on
    ``k - 1``. Padded cells never feed valid ones (they lie below or right of them). Returns
    ``C(n-1, m-1) / P(n-1, m-1)`` (B,).
    """
    if distances.ndim != 3:
        raise ValueError(f"distances must be (B, N, M), got shape {tuple(distances.shape)}")
    batch, n, m = distances.shape
    device = distances.device
    rows_i = torch.arange(n, device=device)
    cols_j = torch.arange(n + m - 1, device=device)[:, None] - rows_i[None, :]  # (K, N): j = k - i
    inside = (cols_j >= 0) & (cols_j < m)
    skewed = distances[:, rows_i[None, :], cols_j.clamp(0, m - 1)]  # (B, K, N)
    skewed = torch.where(inside, skewed, math.inf)

    # one entry per row i, shifted by one: entry 0 is the virtual row i = -1
    cost_before = distances.new_full((batch, n + 1), math.inf)  # anti-diagonal k - 2
    cost_before[:, 0] = 0.0  # C(-1, -1)
    cost_last = distances.new_full((batch, n + 1), math.inf)  # anti-diagonal k - 1
    steps_before = torch.zeros((batch, n + 1), dtype=torch.long, device=device)
    steps_last = torch.zeros_like(steps_before)
    border_cost = distances.new_full((batch, 1), math.inf)
    border_steps = torch.zeros((batch, 1), dtype=torch.long, device=device)
    costs, steps = [], []
    for k in range(n + m - 1):
        diagonal, along_b, along_a = cost_before[:, :n], cost_last[:, 1:], cost_last[:, :n]
        take_diagonal = (diagonal <= along_b) & (diagonal <= along_a)
        take_b = ~take_diagonal & (along_b <= along_a)
        best = torch.where(take_diagonal, diagonal, torch.where(take_b, along_b, along_a))
        previous = torch.where(
            take_diagonal, steps_before[:, :n], torch.where(take_b, steps_last[:, 1:], steps_last[:, :n])
        )
        cost_k, steps_k = skewed[:, k] + best, previous + 1
        costs.append(cost_k)
        steps.append(steps_k)
        cost_before, steps_before = cost_last, steps_last
        cost_last = torch.cat([border_cost, cost_k], dim=1)
        steps_last = torch.cat([border_steps, steps_k], dim=1)
    lengths_a = torch.as_tensor(lengths_a, device=device)
    lengths_b = torch.as_tensor(lengths_b, device=device)
    index = (torch.arange(batch, device=device), lengths_a + lengths_b - 2, lengths_a - 1)
    return torch.stack(costs, dim=1)[index] / torch.stack(steps, dim=1)[index]


# ---------------------------------------------------------------------------------------------------
# Items and groups
@dataclass(frozen=True, eq=False)
class ABXItems:
    """Phone segments with their frames: item ``k`` is ``frames[offsets[k]:offsets[k + 1]]``."""

    frames: np.ndarray  # (total frames, D) float32
    offsets: np.ndarray  # (items + 1,) int64
    category: np.ndarray  # (items,) phone label
    context: np.ndarray  # (items,) "previous+next" for triphone ABX, "" for phone ABX
    speaker: np.ndarray  # (items,)
    utterance: np.ndarray  # (items,)

    def __len__(self) -> int:
        return len(self.category)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def abx_items(
    features_per_utterance: Mapping[str, np.ndarray],
    manifest: Manifest,
    hop_seconds: float,
    context: Context = "triphone",
    exclude: Collection[str] = SILENCE_LABELS,
) -> ABXItems:
    """The phone items of the utterances that are both in ``manifest`` and in ``features_per_utterance``.

    ``features_per_utterance[utt_id]`` is that utterance's (T, D) frame matrix (array or memory map;
    only the item frames are read) with frames ``hop_seconds`` apart. Phones labelled in ``exclude``
    are not items; with ``context="triphone"`` an item's context is ``"previous+next"`` (``#`` at an
    utterance edge).
    """
    if context not in ("triphone", "phone"):
        raise ValueError(f"context must be 'triphone' or 'phone', got {context!r}")
    ids = [u.id for u in manifest if u.id in features_per_utterance]
    if not ids:
        raise ValueError("no utterance of the manifest has features")
    chunks: list[np.ndarray] = []
    lengths: list[int] = []
    columns: dict[str, list[str]] = {"category": [], "context": [], "speaker": [], "utterance": []}
    for utt_id in ids:
        utt = manifest[utt_id]
        if utt.speaker is None:
            raise ValueError(f"{utt_id}: no speaker; ABX needs the speaker of every utterance")
        features = features_per_utterance[utt_id]
        if features.ndim != 2:
            raise ValueError(f"{utt_id}: features must be (T, D), got shape {features.shape}")
        labels = [p.label for p in utt.phones]
        for k, phone in enumerate(utt.phones):
            if phone.label in exclude:
                continue
            first, stop = segment_to_frames(phone.start, phone.end, hop_seconds, len(features))
            chunks.append(np.asarray(features[first:stop], dtype=np.float32))
            lengths.append(stop - first)
            if context == "triphone":
                before = labels[k - 1] if k > 0 else EDGE
                after = labels[k + 1] if k + 1 < len(labels) else EDGE
                columns["context"].append(f"{before}+{after}")
            else:
                columns["context"].append("")
            columns["category"].append(phone.label)
            columns["speaker"].append(str(utt.speaker))
            columns["utterance"].append(utt_id)
    if not chunks:
        raise ValueError("the utterances have no phone segments to use as ABX items")
    dims = {c.shape[1] for c in chunks}
    if len(dims) != 1:
        raise ValueError(f"utterances have features of different widths: {sorted(dims)}")
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return ABXItems(
        np.concatenate(chunks),
        offsets,
        *(
            np.asarray(columns[name], dtype=object)
            for name in ("category", "context", "speaker", "utterance")
        ),
    )


@dataclass(frozen=True, eq=False)
class ABXGroup:
    """The triplets of one (context, speaker, X speaker, A, B) cell: item indices of each role."""

    context: str
    speaker: str  # speaker of A and B
    x_speaker: str  # speaker of X (= speaker within speakers)
    category_a: str
    category_b: str
    a: np.ndarray
    b: np.ndarray
    x: np.ndarray  # within speakers the same items as ``a`` (a triplet never uses x = a)

    @property
    def num_triplets(self) -> int:
        shared = len(np.intersect1d(self.a, self.x))
        return (len(self.x) * len(self.a) - shared) * len(self.b)


def abx_groups(
    items: ABXItems,
    mode: Mode = "within",
    max_items_per_cell: int | None = 10,
    max_x_speakers: int = 5,
    seed: int = 0,
) -> list[ABXGroup]:
    """Every ABX group of ``items`` for ``mode`` (module docstring), reproducible for ``seed``.

    Cells (context, speaker, category) larger than ``max_items_per_cell`` are subsampled once
    (``None``: keep all). Within speakers, A needs two items (a ≠ x); across, the X speakers are the
    other speakers with category A in the same context, at most ``max_x_speakers`` of them.
    """
    if mode not in ("within", "across"):
        raise ValueError(f"mode must be 'within' or 'across', got {mode!r}")
    if max_items_per_cell is not None and max_items_per_cell < 2:
        raise ValueError(f"max_items_per_cell must be at least 2 (or None), got {max_items_per_cell}")
    if max_x_speakers < 1:
        raise ValueError(f"max_x_speakers must be at least 1, got {max_x_speakers}")
    rng = np.random.default_rng(seed)
    cells: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for k, key in enumerate(zip(items.context, items.speaker, items.category)):
        cells[key].append(k)
    chosen: dict[tuple[str, str, str], np.ndarray] = {}
    for key in sorted(cells):
        members = np.asarray(cells[key], dtype=np.int64)
        if max_items_per_cell is not None and len(members) > max_items_per_cell:
            members = np.sort(rng.choice(members, size=max_items_per_cell, replace=False))
        chosen[key] = members

    by_context_speaker: dict[tuple[str, str], list[str]] = defaultdict(list)
    speakers_of: dict[tuple[str, str], list[str]] = defaultdict(list)  # (context, category) -> speakers
    for c, s, category in sorted(chosen):
        by_context_speaker[(c, s)].append(category)
        speakers_of[(c, category)].append(s)

    groups = []
    for (c, s), categories in sorted(by_context_speaker.items()):
        if len(categories) < 2:
            continue
        for cat_a in categories:
            a = chosen[(c, s, cat_a)]
            if mode == "within":
                if len(a) < 2:
                    continue
                x_speakers = [s]
            else:
                others = [t for t in speakers_of[(c, cat_a)] if t != s]
                if len(others) > max_x_speakers:
                    others = sorted(rng.choice(others, size=max_x_speakers, replace=False).tolist())
                x_speakers = others
            for s_x in x_speakers:
                x = chosen[(c, s_x, cat_a)]
                for cat_b in categories:
                    if cat_b != cat_a:
                        groups.append(ABXGroup(c, s, s_x, cat_a, cat_b, a, chosen[(c, s, cat_b)], x))
    return groups


# ---------------------------------------------------------------------------------------------------
# Scoring
@dataclass(frozen=True)
class ABXResult:
    """ABX error with its bookkeeping; ``per_pair[(A, B)]`` and ``per_category[A]`` (mean over B)."""

    error: float
    mode: str
    context: str
    num_triplets: int
    num_groups: int  # (context, speaker, X speaker, A, B) groups scored
    num_cells: int  # distinct (context, speaker, X speaker) among them
    num_pairs: int  # ordered category pairs (A, B) averaged in ``error``
    per_pair: dict[tuple[str, str], float] = field(repr=False)
    per_category: dict[str, float] = field(repr=False)


@dataclass(eq=False)
class _Block:
    """Items whose pairwise DTW distances are needed: ``distances[i, j] = d(rows[i], cols[j])``.

    Within speakers a block is a (context, speaker) cell with itself (``symmetric``: only i < j is
    computed); across speakers, the X items of one (context, speaker, A, X speaker) against the
    A and B items of the (context, speaker) cell. Both index lists are sorted.
    """

    rows: np.ndarray
    cols: np.ndarray
    symmetric: bool
    distances: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.distances = np.zeros((len(self.rows), len(self.cols)))


def _spans(items: ABXItems, members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame indices of ``members`` (concatenated), and each member's start in them and length."""
    lengths = items.lengths[members]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    frames = np.repeat(items.offsets[members] - starts, lengths) + np.arange(lengths.sum())
    return frames, starts, lengths


def _tiles(first: np.ndarray, second: np.ndarray, budget: int) -> Iterator[slice]:
    """Consecutive slices in which ``count × max(first) × max(second)`` stays within ``budget``.

    The padded size of a slice of items (``first`` frames each against ``second``) or of DTW
    problems (``first`` × ``second`` cells); a single entry above the budget gets a slice of its own.
    """
    start = 0
    while start < len(first):
        cost = (
            np.arange(1, len(first) - start + 1)
            * np.maximum.accumulate(first[start:])
            * np.maximum.accumulate(second[start:])
        )
        count = max(1, int(np.searchsorted(cost, budget, side="right")))
        yield slice(start, start + count)
        start += count


class _DTWQueue:
    """Padded DTW problems from many blocks, solved in batches of at most :data:`BATCH_ELEMENTS` cells."""

    def __init__(self) -> None:
        self._pending: list[tuple[Tensor, Tensor, Tensor, _Block, np.ndarray, np.ndarray]] = []
        self._cells = 0

    def add(
        self, distances: Tensor, len_a: Tensor, len_b: Tensor, block: _Block, i: np.ndarray, j: np.ndarray
    ) -> None:
        if self._pending and self._cells + distances.numel() > BATCH_ELEMENTS:
            self.flush()
        self._pending.append((distances, len_a, len_b, block, i, j))
        self._cells += distances.numel()

    def flush(self) -> None:
        if not self._pending:
            return
        n = max(d.shape[1] for d, *_ in self._pending)
        m = max(d.shape[2] for d, *_ in self._pending)
        padded = torch.cat([F.pad(d, (0, m - d.shape[2], 0, n - d.shape[1])) for d, *_ in self._pending])
        len_a = torch.cat([entry[1] for entry in self._pending])
        len_b = torch.cat([entry[2] for entry in self._pending])
        values = dtw_batch(padded, len_a, len_b).cpu().numpy()
        start = 0
        for distances, _, _, block, i, j in self._pending:
            stop = start + len(distances)
            block.distances[i, j] = values[start:stop]
            if block.symmetric:
                block.distances[j, i] = values[start:stop]
            start = stop
        self._pending, self._cells = [], 0


def _fill_block(items: ABXItems, frames: Tensor, block: _Block, queue: _DTWQueue) -> None:
    """Frame distances of the block's items, tile by tile, and their DTW problems into ``queue``."""
    device = frames.device
    col_frames, col_starts, col_lengths = _spans(items, block.cols)
    col_values = frames[torch.from_numpy(col_frames).to(device)]
    row_lengths = items.lengths[block.rows]
    for tile in _tiles(row_lengths, np.full(len(block.rows), len(col_frames)), BATCH_ELEMENTS):
        members = np.arange(len(block.rows))[tile]
        row_frames, row_starts, _ = _spans(items, block.rows[tile])
        delta = angular_distance(frames[torch.from_numpy(row_frames).to(device)], col_values)
        i, j = (v.ravel() for v in np.meshgrid(members, np.arange(len(block.cols)), indexing="ij"))
        if block.symmetric:
            keep = i < j
            i, j = i[keep], j[keep]
        order = np.lexsort((col_lengths[j], row_lengths[i]))
        i, j = i[order], j[order]
        n_all, m_all = row_lengths[i], col_lengths[j]
        for part in _tiles(n_all, m_all, BATCH_ELEMENTS // 4):
            n, m = int(n_all[part].max()), int(m_all[part].max())
            len_a = torch.from_numpy(n_all[part]).to(device)
            len_b = torch.from_numpy(m_all[part]).to(device)
            # padded positions repeat the last frame; their cells never reach a valid DTW cell
            rows = torch.from_numpy(row_starts[i[part] - members[0]]).to(device)[:, None] + torch.minimum(
                torch.arange(n, device=device)[None], len_a[:, None] - 1
            )
            cols = torch.from_numpy(col_starts[j[part]]).to(device)[:, None] + torch.minimum(
                torch.arange(m, device=device)[None], len_b[:, None] - 1
            )
            queue.add(delta[rows[:, :, None], cols[:, None, :]], len_a, len_b, block, i[part], j[part])


def score_groups(
    items: ABXItems,
    groups: list[ABXGroup],
    mode: str = "",
    context: str = "",
    device: str | torch.device | None = None,
) -> ABXResult:
    """The ABX error of ``groups`` with the ZeroSpeech averaging order (module docstring).

    Distances are computed once per block of items (a cell with itself within speakers; the X items
    of a cell's category against that cell across speakers): one matrix product of their frames
    gives every frame distance, and the DTW problems of all blocks are solved in shared batches.
    """
    if not groups:
        raise ValueError(
            "no ABX triplets: within speakers a category needs two items and a competitor of the same "
            "speaker (and context); across speakers, a category in the same context from another speaker"
        )
    members: dict[tuple[str, ...], list[np.ndarray]] = defaultdict(list)
    x_items: dict[tuple[str, ...], np.ndarray] = {}
    keys = []
    for g in groups:
        within = g.x_speaker == g.speaker
        key = (g.context, g.speaker) if within else (g.context, g.speaker, g.category_a, g.x_speaker)
        members[key] += [g.a, g.b]
        x_items[key] = g.x
        keys.append(key)
    blocks = {}
    for key, arrays in members.items():
        cols = np.unique(np.concatenate(arrays))
        within = len(key) == 2
        blocks[key] = _Block(cols if within else np.unique(x_items[key]), cols, within)

    device = torch.device(device) if device is not None else torch.device("cpu")
    frames = torch.from_numpy(items.frames).to(device)
    queue = _DTWQueue()
    for block in blocks.values():
        _fill_block(items, frames, block, queue)
    queue.flush()

    per_sab: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    num_triplets = 0
    for g, key in zip(groups, keys):
        block = blocks[key]
        x_rows = block.distances[np.searchsorted(block.rows, g.x)]
        d_xa = x_rows[:, np.searchsorted(block.cols, g.a)]
        d_xb = x_rows[:, np.searchsorted(block.cols, g.b)]
        valid = g.x[:, None] != g.a[None, :]  # a triplet never uses x = a
        wrong = (d_xa[:, :, None] > d_xb[:, None, :]) + 0.5 * (d_xa[:, :, None] == d_xb[:, None, :])
        triplets = int(valid.sum()) * len(g.b)
        per_sab[(g.speaker, g.category_a, g.category_b)].append(
            float((wrong * valid[:, :, None]).sum()) / triplets
        )
        num_triplets += triplets

    # (1) mean over context (and X speaker) per (s, A, B); (2) over s per (A, B); (3) over (A, B)
    per_ab: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (_, cat_a, cat_b), errors in per_sab.items():
        per_ab[(cat_a, cat_b)].append(float(np.mean(errors)))
    per_pair = {pair: float(np.mean(errors)) for pair, errors in sorted(per_ab.items())}
    by_a: dict[str, list[float]] = defaultdict(list)
    for (cat_a, _), error in per_pair.items():
        by_a[cat_a].append(error)
    return ABXResult(
        error=float(np.mean(list(per_pair.values()))),
        mode=mode,
        context=context,
        num_triplets=num_triplets,
        num_groups=len(groups),
        num_cells=len({(g.context, g.speaker, g.x_speaker) for g in groups}),
        num_pairs=len(per_pair),
        per_pair=per_pair,
        per_category={cat: float(np.mean(errors)) for cat, errors in sorted(by_a.items())},
    )


def abx_error(
    features_per_utterance: Mapping[str, np.ndarray],
    manifest: Manifest,
    hop_seconds: float,
    mode: Mode = "within",
    context: Context = "triphone",
    max_items_per_cell: int | None = 10,
    max_x_speakers: int = 5,
    seed: int = 0,
    exclude: Collection[str] = SILENCE_LABELS,
    device: str | torch.device | None = None,
) -> ABXResult:
    """ABX phone discrimination error of per-utterance (T, D) features on an aligned manifest.

    0 when every phone is closer to its own category than to any other, about 0.5 for features
    unrelated to the phones. See the module docstring for items, conditions and averaging;
    ``device`` runs the distances and DTW there.
    """
    items = abx_items(features_per_utterance, manifest, hop_seconds, context=context, exclude=exclude)
    groups = abx_groups(
        items, mode, max_items_per_cell=max_items_per_cell, max_x_speakers=max_x_speakers, seed=seed
    )
    return score_groups(items, groups, mode=mode, context=context, device=device)


class _StoreFrames(Mapping[str, np.ndarray]):
    """The frame rows of each utterance of a frame-span store, as float16 memory-map slices."""

    def __init__(self, store: FeatureStore, layer: str, ids: list[str]) -> None:
        self._features = store.features(layer)
        self._offsets = store.offsets(layer)
        positions = {utt: k for k, utt in enumerate(store.utterance_ids)}
        self._positions = {utt: positions[utt] for utt in ids}

    def __getitem__(self, utt_id: str) -> np.ndarray:
        k = self._positions[utt_id]
        return self._features[self._offsets[k] : self._offsets[k + 1]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


def abx_from_store(store: FeatureStore, layer: str, manifest: Manifest, **kwargs: Any) -> ABXResult:
    """:func:`abx_error` of one layer of a frame-span :class:`~speechrep.store.FeatureStore`.

    Uses the utterances of ``manifest`` held by the store, the layer's hop, and reads only the
    frames of the phone items. Keyword arguments go to :func:`abx_error`.
    """
    if store.span != "frame":
        raise ValueError(f"ABX needs a frame-span store; {store.path} holds {store.span!r} rows")
    frames = _StoreFrames(store, layer, [u for u in store.utterance_ids if u in manifest])
    return abx_error(frames, manifest, store.hop_seconds(layer), **kwargs)
