"""Frame arithmetic at the edges: segment -> frames, middle third, segment pooling, 10 ms pooling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechrep.upstream import (
    MelUpstream,
    cnn_pooling_to_10ms,
    pool_segments,
    pool_to_10ms,
    pooled_num_frames,
    segment_to_frames,
    segments_to_frames,
    utterance_mean,
)

HOP = 0.02


# --------------------------------------------------------------------------------------------------
# segment_to_frames
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0.0, 0.02, (0, 1)),  # starts at 0, ends on the first boundary
        (0.0, 0.0, (0, 1)),  # zero length at 0 -> one frame
        (0.1, 0.2, (5, 10)),  # both ends exactly on frame boundaries
        (0.105, 0.31, (5, 16)),  # the reference's worked example: range(5, 16)
        (0.101, 0.102, (5, 6)),  # shorter than a frame -> one frame
        (0.15, 0.15, (7, 8)),  # zero length inside a frame
        (0.06, 0.12, (3, 6)),  # 0.06 / 0.02 = 2.9999999999999996 must floor to 3
        (0.06, 0.06, (3, 4)),
        (0.1, 0.14, (5, 7)),  # 0.14 / 0.02 = 7.000000000000001 must ceil to 7
        (0.9, 1.5, (45, 49)),  # ends after the utterance -> clipped to the 49 frames
        (0.0, 0.98, (0, 49)),  # ends exactly at the last frame's end
        (0.96, 0.99, (48, 49)),  # starts in the last frame
    ],
)
def test_segment_to_frames(start: float, end: float, expected: tuple[int, int]) -> None:
    assert segment_to_frames(start, end, HOP, 49) == expected


def test_floating_error_is_absorbed_for_many_boundaries() -> None:
    for index in range(1, 500):
        boundary = index * HOP  # float products such as 0.06, 0.14 carry rounding error
        assert segment_to_frames(boundary, boundary + HOP, HOP, 1000) == (index, index + 1)
        assert segment_to_frames(0.0, boundary, HOP, 1000) == (0, index)


def test_segment_in_the_last_hop_gets_the_last_frame_and_later_ones_raise() -> None:
    # 16000 samples give 49 frames starting by 0.96 s; a phone at [0.98, 1.0] s is still audio
    assert segment_to_frames(0.98, 1.0, HOP, 49) == (48, 49)
    assert segment_to_frames(0.98, 1.0, HOP, 49, middle_third=True) == (48, 49)
    with pytest.raises(ValueError, match=r"1\.0000.*1\.0200.*49 frames"):
        segment_to_frames(1.0, 1.02, HOP, 49)
    with pytest.raises(ValueError, match="after the last frame"):
        segment_to_frames(5.0, 6.0, HOP, 49)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (0.3, 0.2, "ends before it starts"),
        (-0.1, 0.2, "starts before 0"),
        (float("nan"), 0.2, "non-finite"),
        (0.1, float("inf"), "non-finite"),
    ],
)
def test_bad_segments_fail(start: float, end: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        segment_to_frames(start, end, HOP, 49)


def test_bad_geometry_fails() -> None:
    with pytest.raises(ValueError, match="hop_seconds"):
        segment_to_frames(0.0, 0.1, 0.0, 49)
    with pytest.raises(ValueError, match="no frames"):
        segment_to_frames(0.0, 0.1, HOP, 0)


@pytest.mark.parametrize(
    ("num_frames", "kept"),
    [
        (1, (0, 1)),  # trim floor(2/3)=0
        (2, (1, 2)),  # trim 1 from each side empties it -> keep the second frame (as the reference)
        (3, (1, 2)),  # trim 1 -> the middle frame
        (4, (1, 3)),  # trim 1 -> the middle two
        (5, (2, 3)),  # trim 2 -> the middle frame
        (6, (2, 4)),  # trim 2 -> the middle two (the reference's "6 frames keep 2")
        (7, (2, 5)),  # trim floor(8/3)=2 -> the middle three
        (9, (3, 6)),  # trim floor(10/3)=3
    ],
)
def test_middle_third(num_frames: int, kept: tuple[int, int]) -> None:
    assert segment_to_frames(0.0, num_frames * HOP, HOP, 100) == (0, num_frames)
    assert segment_to_frames(0.0, num_frames * HOP, HOP, 100, middle_third=True) == kept
    shifted = segment_to_frames(0.2, 0.2 + num_frames * HOP, HOP, 100, middle_third=True)
    assert shifted == (kept[0] + 10, kept[1] + 10)


def test_middle_third_is_taken_before_clipping() -> None:
    # frames [45, 50) of a 49-frame utterance: the phone's middle frame 47 exists, keep it
    assert segment_to_frames(0.9, 1.0, HOP, 49, middle_third=True) == (47, 48)
    # the middle third lies entirely past the end: keep the last frame
    assert segment_to_frames(0.9, 1.5, HOP, 49, middle_third=True) == (48, 49)


def test_segments_to_frames_vector_form() -> None:
    first, stop = segments_to_frames([(0.0, 0.06), (0.105, 0.31)], HOP, 49)
    assert first.tolist() == [0, 5] and stop.tolist() == [3, 16]
    assert first.dtype == np.int64
    empty_first, empty_stop = segments_to_frames([], HOP, 49)
    assert empty_first.shape == (0,) and empty_stop.shape == (0,)


# --------------------------------------------------------------------------------------------------
# pool_segments / utterance_mean
# --------------------------------------------------------------------------------------------------


def _naive_pool(features: np.ndarray, segments, middle_third: bool) -> np.ndarray:
    rows = []
    for start, end in segments:
        first, stop = segment_to_frames(start, end, HOP, len(features), middle_third)
        rows.append(features[first:stop].astype(np.float64).mean(axis=0))
    return np.stack(rows)


@pytest.mark.parametrize("middle_third", [False, True])
def test_pool_segments_equals_a_naive_loop(middle_third: bool) -> None:
    rng = np.random.default_rng(0)
    features = rng.standard_normal((60, 5)).astype(np.float32)
    starts = rng.uniform(0.0, 1.15, size=40)
    segments = [(s, s + d) for s, d in zip(starts, rng.uniform(0.0, 0.3, size=40))]
    segments += [(0.0, 0.0), (1.18, 1.19), (0.5, 3.0)]
    expected = _naive_pool(features, segments, middle_third)

    pooled = pool_segments(features, segments, HOP, middle_third=middle_third)
    assert isinstance(pooled, np.ndarray) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled, expected, rtol=1e-6, atol=1e-6)

    pooled_tensor = pool_segments(torch.from_numpy(features), segments, HOP, middle_third=middle_third)
    assert isinstance(pooled_tensor, torch.Tensor) and pooled_tensor.dtype == torch.float32
    np.testing.assert_allclose(pooled_tensor.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_pool_segments_edge_shapes() -> None:
    features = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    assert pool_segments(features, [], HOP).shape == (0, 2)
    assert pool_segments(features, [(0.0, 0.02)], HOP).tolist() == [[0.0, 1.0]]
    assert pool_segments(features, [(0.0, 1.0)], HOP).tolist() == [[5.0, 6.0]]  # clipped to all 6
    with pytest.raises(ValueError, match=r"\(T, D\)"):
        pool_segments(features[0], [(0.0, 0.02)], HOP)


def test_utterance_mean() -> None:
    features = np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)
    assert utterance_mean(features).tolist() == [2.0, 4.0]
    assert utterance_mean(torch.from_numpy(features)).tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="T >= 1"):
        utterance_mean(np.zeros((0, 3)))


# --------------------------------------------------------------------------------------------------
# CNN pooling to 10 ms
# --------------------------------------------------------------------------------------------------


def test_cnn_pooling_kernels_for_the_wav2vec2_geometry(tiny_base) -> None:
    kernels = [cnn_pooling_to_10ms(tiny_base, f"cnn.{k}") for k in range(7)]
    assert kernels == [(79, 32), (39, 16), (19, 8), (9, 4), (4, 2), (2, 1), None]
    assert cnn_pooling_to_10ms(tiny_base, "tf.0") is None
    assert cnn_pooling_to_10ms(MelUpstream(), "mel") == (1, 1)
    assert cnn_pooling_to_10ms(MelUpstream(), "mel.20ms") is None


def test_each_pooled_frame_spans_one_mel_window(tiny_base) -> None:
    for k in range(6):
        layer = f"cnn.{k}"
        kernel, stride = cnn_pooling_to_10ms(tiny_base, layer)
        hop, field = tiny_base.hop_length(layer), tiny_base.receptive_field(layer)
        for j in (0, 1, 57):
            first_sample = hop * stride * j
            last_sample_end = hop * (stride * j + kernel - 1) + field
            assert (first_sample, last_sample_end) == (160 * j, 160 * j + 400)


@pytest.mark.parametrize("num_samples", [16000, 400, 479, 480, 12345, 90043, 31999])
def test_pooled_frame_count_against_mel(tiny_base, num_samples: int) -> None:
    mel_frames = MelUpstream().num_frames("mel", num_samples)
    assert mel_frames == 1 + num_samples // 160
    expected_pooled = (num_samples - 400) // 160 + 1
    for k in range(6):
        kernel, stride = cnn_pooling_to_10ms(tiny_base, f"cnn.{k}")
        frames = tiny_base.num_frames(f"cnn.{k}", num_samples)
        assert pooled_num_frames(frames, kernel, stride) == expected_pooled
    # documented relation: the mel is 3 frames longer if N mod 160 < 80, else 2 (truncated to pooled)
    assert mel_frames - expected_pooled == (3 if num_samples % 160 < 80 else 2)


def test_one_second_counts() -> None:
    assert (16000 - 400) // 160 + 1 == 98
    assert MelUpstream().num_frames("mel", 16000) == 101
    assert MelUpstream().num_frames("mel.20ms", 16000) == 51


def test_pool_to_10ms_on_real_cnn_features(tiny_base) -> None:
    wave = 0.1 * torch.randn(16000, generator=torch.Generator().manual_seed(3))
    features = tiny_base.extract([wave], ["cnn.0"])[0]["cnn.0"]
    pooled = pool_to_10ms(features, 79, 32)
    assert pooled.shape == (98, features.shape[1])
    torch.testing.assert_close(pooled[0], features[:79].mean(0))
    torch.testing.assert_close(pooled[97], features[32 * 97 : 32 * 97 + 79].mean(0))
    as_numpy = pool_to_10ms(features.numpy(), 79, 32)
    assert isinstance(as_numpy, np.ndarray)
    np.testing.assert_allclose(as_numpy, pooled.numpy())


def test_pool_to_10ms_edges() -> None:
    features = torch.arange(10, dtype=torch.float32)[:, None]
    assert pool_to_10ms(features, 4, 2)[:, 0].tolist() == [1.5, 3.5, 5.5, 7.5]
    assert pool_to_10ms(features, 11, 1).shape == (0, 1)
    assert pool_to_10ms(features, 1, 1).tolist() == features.tolist()
    assert pooled_num_frames(10, 4, 2) == 4 and pooled_num_frames(3, 4, 2) == 0
    with pytest.raises(ValueError, match="kernel and stride"):
        pool_to_10ms(features, 0, 1)
