"""ABX: separable and random features, a hand-computed case, DTW against a plain loop, triplet selection."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from speechrep.analysis.abx import (
    abx_error,
    abx_from_store,
    abx_groups,
    abx_items,
    angular_distance,
    dtw_batch,
)
from speechrep.data import Manifest, Segment, Utterance
from speechrep.store import ExtractionSettings, extract_features
from tests.conftest import PROJECT_ROOT

HOP = 0.02


def synthetic_corpus(
    make_frames: Callable[[str, str, int, np.random.Generator], np.ndarray],
    speakers: int = 3,
    utterances_per_speaker: int = 3,
    phones_per_utterance: int = 10,
    categories: str = "abcd",
    seed: int = 0,
) -> tuple[Manifest, dict[str, np.ndarray]]:
    """Utterances of random phone strings (2 to 6 frames each) between silences; frames by ``make_frames``."""
    rng = np.random.default_rng(seed)
    utterances, features = [], {}
    for s in range(speakers):
        for u in range(utterances_per_speaker):
            utt_id, speaker = f"s{s}u{u}", f"spk{s}"
            labels = ["sil", *rng.choice(list(categories), phones_per_utterance).tolist(), "sil"]
            phones, chunks, t = [], [], 0
            for label in labels:
                n = int(rng.integers(2, 7))
                phones.append(Segment(label, t * HOP, (t + n) * HOP))
                chunks.append(make_frames(label, speaker, n, rng))
                t += n
            utterances.append(
                Utterance(utt_id, f"{utt_id}.wav", 16000, t * HOP, speaker=speaker, phones=phones)
            )
            features[utt_id] = np.concatenate(chunks).astype(np.float32)
    return Manifest(utterances, name="synthetic"), features


def naive_dtw(distances: np.ndarray) -> float:
    """Plain O(nm) DTW with backtracking, path-length normalised (the libri-light rule)."""
    n, m = distances.shape
    cost = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                best = 0.0
            elif i == 0:
                best = cost[0, j - 1]
            elif j == 0:
                best = cost[i - 1, 0]
            else:
                best = min(cost[i - 1, j - 1], cost[i, j - 1], cost[i - 1, j])
            cost[i, j] = distances[i, j] + best
    i, j, length = n - 1, m - 1, 1
    while i > 0 and j > 0:
        diagonal, left, up = cost[i - 1, j - 1], cost[i, j - 1], cost[i - 1, j]
        if diagonal <= left and diagonal <= up:
            i, j = i - 1, j - 1
        elif left <= up:
            j -= 1
        else:
            i -= 1
        length += 1
    length += i + j
    return cost[n - 1, m - 1] / length


def naive_abx(manifest: Manifest, features: dict[str, np.ndarray], mode: str, context: str) -> float:
    """Every triplet, plain loops, libri-light's averaging order; no subsampling."""
    items = []
    for utt in manifest:
        labels = [p.label for p in utt.phones]
        for k, p in enumerate(utt.phones):
            if p.label == "sil":
                continue
            first, stop = round(p.start / HOP), round(p.end / HOP)
            ctx = f"{labels[k - 1] if k else '#'}+{labels[k + 1] if k + 1 < len(labels) else '#'}"
            items.append(
                (ctx if context == "triphone" else "", utt.speaker, p.label, features[utt.id][first:stop])
            )

    def distance(u: np.ndarray, v: np.ndarray) -> float:
        cos = (u / np.linalg.norm(u, axis=1, keepdims=True)) @ (
            v / np.linalg.norm(v, axis=1, keepdims=True)
        ).T
        return naive_dtw(np.arccos(np.clip(cos, -1, 1)) / np.pi)

    cells = defaultdict(list)
    for ctx, spk, cat, frames in items:
        cells[(ctx, spk, cat)].append(frames)
    per_sab = defaultdict(list)
    for (ctx, spk, cat_a), a_items in cells.items():
        x_speakers = (
            [spk] if mode == "within" else sorted({s for c, s, k in cells if c == ctx and k == cat_a} - {spk})
        )
        for (ctx_b, spk_b, cat_b), b_items in cells.items():
            if ctx_b != ctx or spk_b != spk or cat_b == cat_a:
                continue
            for s_x in x_speakers:
                errors = []
                for (ia, a), (ix, x) in itertools.product(
                    enumerate(a_items), enumerate(cells[(ctx, s_x, cat_a)])
                ):
                    if mode == "within" and ia == ix:
                        continue
                    for b in b_items:
                        dax, dbx = distance(a, x), distance(b, x)
                        errors.append(1.0 if dax > dbx else 0.5 if dax == dbx else 0.0)
                if errors:
                    per_sab[(spk, cat_a, cat_b)].append(np.mean(errors))
    per_ab = defaultdict(list)
    for (_, cat_a, cat_b), errors in per_sab.items():
        per_ab[(cat_a, cat_b)].append(np.mean(errors))
    return float(np.mean([np.mean(v) for v in per_ab.values()]))


def test_dtw_batch_equals_plain_loop():
    rng = np.random.default_rng(0)
    lengths_a, lengths_b = rng.integers(1, 9, 40), rng.integers(1, 7, 40)
    padded = rng.random((40, 8, 6))
    got = dtw_batch(torch.from_numpy(padded), torch.from_numpy(lengths_a), torch.from_numpy(lengths_b))
    want = [naive_dtw(padded[k, : lengths_a[k], : lengths_b[k]]) for k in range(40)]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)
    # quantised distances make ties, where the path (and its length) depends on the tie rule
    ties = np.round(padded * 2) / 2
    got = dtw_batch(torch.from_numpy(ties), torch.from_numpy(lengths_a), torch.from_numpy(lengths_b))
    want = [naive_dtw(ties[k, : lengths_a[k], : lengths_b[k]]) for k in range(40)]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)


def test_angular_distance():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 2, 4))
    got = angular_distance(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    cos = (
        np.einsum("kid,kjd->kij", a, b)
        / np.linalg.norm(a, axis=2)[:, :, None]
        / np.linalg.norm(b, axis=2)[:, None]
    )
    np.testing.assert_allclose(got, np.arccos(cos) / np.pi, atol=1e-12)
    assert angular_distance(torch.tensor([[1.0, 0.0]]), torch.tensor([[-2.0, 0.0]])).item() == pytest.approx(
        1.0
    )
    zero = torch.zeros(1, 2)
    assert angular_distance(zero, torch.tensor([[1.0, 1.0]])).item() == 1.0
    assert angular_distance(zero, zero).item() == 0.0


def test_hand_computed_one_dimensional_case():
    # 1-D frames: the angular distance is 0 for equal signs, 1 for opposite ones. Items (hop 1 s):
    #   a1 = [+], b1 = [-], a2 = [+ + -], b2 = [+ -]
    # normalised DTW: d(a1,a2) = 1/3, d(a1,b1) = 1, d(a1,b2) = 1/2, d(a2,b1) = 2/3, d(a2,b2) = 0/3,
    # d(b1,b2) = 1/2.  (A=a, B=b): x=a1: 1/3 < 1 and < 1/2, right twice; x=a2: 1/3 < 2/3 right,
    # 1/3 > 0 wrong -> 1/4.  (A=b, B=a): x=b1: 1/2 < 1 and < 2/3, right twice; x=b2: 1/2 = 1/2 tie,
    # 1/2 > 0 wrong -> 1.5/4.  Mean over the two ordered pairs: 0.3125. (Without dividing by the path
    # length the answer would differ: (a, b) alone would give 1/2.)
    frames = np.array([[1.0], [-1.0], [1.0], [1.0], [-1.0], [1.0], [-1.0]])
    phones = [Segment("a", 0, 1), Segment("b", 1, 2), Segment("a", 2, 5), Segment("b", 5, 7)]
    manifest = Manifest([Utterance("u", "u.wav", 16000, 7.0, speaker="s", phones=phones)])
    result = abx_error({"u": frames}, manifest, hop_seconds=1.0, mode="within", context="phone")
    assert result.per_pair == {("a", "b"): pytest.approx(0.25), ("b", "a"): pytest.approx(0.375)}
    assert result.error == pytest.approx(0.3125)
    assert result.per_category == {"a": pytest.approx(0.25), "b": pytest.approx(0.375)}
    assert (result.num_triplets, result.num_groups, result.num_cells, result.num_pairs) == (8, 2, 1, 2)


@pytest.mark.parametrize("mode", ["within", "across"])
@pytest.mark.parametrize("context", ["triphone", "phone"])
def test_perfectly_separable_categories_give_zero_error(mode: str, context: str):
    centres = {c: v for c, v in zip("abcd", np.random.default_rng(7).standard_normal((4, 16)))}
    centres["sil"] = np.zeros(16)

    def frames(label: str, speaker: str, n: int, rng: np.random.Generator) -> np.ndarray:
        return centres[label] + 1e-3 * rng.standard_normal((n, 16))

    manifest, features = synthetic_corpus(frames, utterances_per_speaker=6, phones_per_utterance=12)
    result = abx_error(features, manifest, HOP, mode=mode, context=context)
    assert result.error == 0.0
    assert result.num_triplets > (100 if context == "triphone" else 1000)
    assert result.num_pairs == 12


def test_random_features_give_chance_error():
    def frames(label: str, speaker: str, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, 8))

    manifest, features = synthetic_corpus(
        frames, speakers=4, utterances_per_speaker=4, phones_per_utterance=15
    )
    for mode in ("within", "across"):
        result = abx_error(features, manifest, HOP, mode=mode, context="phone", max_items_per_cell=12)
        assert result.error == pytest.approx(0.5, abs=0.05)
        assert result.num_triplets > 5000


@pytest.mark.parametrize("mode", ["within", "across"])
def test_matches_a_brute_force_enumeration_of_triplets(mode: str):
    centres = np.random.default_rng(3).standard_normal((5, 6))

    def frames(label: str, speaker: str, n: int, rng: np.random.Generator) -> np.ndarray:
        shift = 0.8 * (int(speaker[-1]) - 1)  # speaker-dependent, so across is harder than within
        return centres["sabc".index(label[0])] + shift + rng.standard_normal((n, 6))

    manifest, features = synthetic_corpus(
        frames, speakers=3, utterances_per_speaker=2, phones_per_utterance=9, categories="abc", seed=4
    )
    for context in ("phone", "triphone"):
        result = abx_error(
            features, manifest, HOP, mode=mode, context=context, max_items_per_cell=None, max_x_speakers=10
        )
        assert result.error == pytest.approx(naive_abx(manifest, features, mode, context), abs=1e-9)


def test_within_and_across_speaker_triplet_selection():
    def frames(label: str, speaker: str, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, 3))

    manifest, features = synthetic_corpus(
        frames, speakers=4, utterances_per_speaker=2, phones_per_utterance=12
    )
    items = abx_items(features, manifest, HOP, context="triphone")
    assert "sil" not in set(items.category)

    within = abx_groups(items, "within", max_items_per_cell=None)
    assert within
    for g in within:
        assert g.x_speaker == g.speaker and np.array_equal(g.x, g.a) and len(g.a) >= 2
        for role, members in (("a", g.a), ("b", g.b), ("x", g.x)):
            assert set(items.speaker[members]) == {g.speaker}, role
            assert set(items.context[members]) == {g.context}, role
        assert set(items.category[g.a]) == {g.category_a} and set(items.category[g.b]) == {g.category_b}
        assert g.num_triplets == len(g.a) * (len(g.a) - 1) * len(g.b)

    across = abx_groups(items, "across", max_items_per_cell=None, max_x_speakers=2)
    assert across
    x_speakers = defaultdict(set)
    for g in across:
        assert g.x_speaker != g.speaker
        assert set(items.speaker[g.a]) == set(items.speaker[g.b]) == {g.speaker}
        assert set(items.speaker[g.x]) == {g.x_speaker}
        assert set(items.category[g.x]) == set(items.category[g.a]) == {g.category_a}
        assert set(items.context[np.concatenate([g.a, g.b, g.x])]) == {g.context}
        assert g.num_triplets == len(g.a) * len(g.x) * len(g.b)
        x_speakers[(g.context, g.speaker, g.category_a)].add(g.x_speaker)
    assert max(len(v) for v in x_speakers.values()) == 2  # at most max_x_speakers per (c, s, A)

    # every (context, speaker) cell with two categories, one of them with two items, forms groups
    cells = defaultdict(lambda: defaultdict(int))
    for c, s, k in zip(items.context, items.speaker, items.category):
        cells[(c, s)][k] += 1
    expected = sum(
        sum(n >= 2 for n in counts.values()) * (len(counts) - 1)
        for counts in cells.values()
        if len(counts) > 1
    )
    assert len(within) == expected

    # subsampling caps each (context, speaker, category) cell, reproducibly
    capped = abx_groups(items, "within", max_items_per_cell=2, seed=5)
    assert max(max(len(g.a), len(g.b)) for g in capped) <= 2
    again = abx_groups(items, "within", max_items_per_cell=2, seed=5)
    assert all(np.array_equal(g.a, h.a) and np.array_equal(g.b, h.b) for g, h in zip(capped, again))


def test_triplets_of_a_hand_built_two_speaker_manifest():
    # speaker s1 says a a b, speaker s2 says a b (one frame each, hop 1 s, phone ABX)
    def utterance(utt_id: str, speaker: str, labels: str) -> Utterance:
        phones = [Segment(label, k, k + 1) for k, label in enumerate(labels)]
        return Utterance(utt_id, f"{utt_id}.wav", 16000, len(labels), speaker=speaker, phones=phones)

    manifest = Manifest([utterance("u1", "s1", "aab"), utterance("u2", "s2", "ab")])
    features = {
        "u1": np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]]),
        "u2": np.array([[1.0, 0.2], [0.1, 1.0]]),
    }
    items = abx_items(features, manifest, 1.0, context="phone")
    # within: only s1's (A=a, B=b) has two A items: x, a in {a1, a2} (x != a), b = b1 -> 2 triplets
    within = abx_groups(items, "within")
    assert [(g.speaker, g.x_speaker, g.category_a, g.category_b, g.num_triplets) for g in within] == [
        ("s1", "s1", "a", "b", 2)
    ]
    # across: A, B from one speaker, X of category A from the other
    across = abx_groups(items, "across")
    assert sorted((g.speaker, g.x_speaker, g.category_a, g.category_b, g.num_triplets) for g in across) == [
        ("s1", "s2", "a", "b", 2),  # a in {a1, a2}, x = s2's a, b = b1
        ("s1", "s2", "b", "a", 2),  # a = b1, x = s2's b, b in {a1, a2}
        ("s2", "s1", "a", "b", 2),  # a = s2's a, x in s1's {a1, a2}, b = s2's b
        ("s2", "s1", "b", "a", 1),
    ]
    assert abx_error(features, manifest, 1.0, mode="within", context="phone").num_triplets == 2
    result = abx_error(features, manifest, 1.0, mode="across", context="phone")
    assert (result.num_triplets, result.num_groups, result.num_cells, result.error) == (7, 4, 2, 0.0)


def test_misuse_is_reported():
    manifest, features = synthetic_corpus(
        lambda *args: np.ones((args[2], 2)), speakers=1, utterances_per_speaker=1
    )
    with pytest.raises(ValueError, match="mode"):
        abx_error(features, manifest, HOP, mode="between")
    with pytest.raises(ValueError, match="no utterance"):
        abx_error({"other": features["s0u0"]}, manifest, HOP)
    one_phone = Manifest([Utterance("u", "u.wav", 16000, 0.1, speaker="s", phones=[Segment("a", 0, 0.1)])])
    with pytest.raises(ValueError, match="no ABX triplets"):
        abx_error({"u": np.ones((5, 2))}, one_phone, HOP)


def test_abx_from_a_frame_store_equals_abx_on_its_arrays(tmp_path, noise_corpus):
    upstream = instantiate(OmegaConf.load(PROJECT_ROOT / "configs" / "upstream" / "mel.yaml"))
    store = extract_features(
        noise_corpus, upstream, tmp_path / "store", ExtractionSettings(layers=["mel.20ms"], span="frame")
    )
    subset = noise_corpus[:4]
    from_store = abx_from_store(store, "mel.20ms", subset, mode="within", context="phone")
    arrays = {u.id: store.get("mel.20ms", u.id) for u in subset}
    direct = abx_error(arrays, subset, store.hop_seconds("mel.20ms"), mode="within", context="phone")
    assert from_store.error == pytest.approx(direct.error, abs=1e-12)
    assert from_store.num_triplets == direct.num_triplets > 0
    assert math.isfinite(from_store.error)
