"""Heatmap: a readable PNG of a layer × layer matrix, written atomically; shape mismatches refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from speechrep.viz.heatmap import plot_heatmap


def test_writes_a_png_of_the_matrix(tmp_path):
    rng = np.random.default_rng(0)
    matrix = rng.random((13, 8))
    matrix[2, 3] = np.nan
    rows = [f"tf.{k}" for k in range(13)]
    cols = ["mel", *(f"cnn.{k}" for k in range(7))]
    path = plot_heatmap(
        matrix,
        rows,
        cols,
        tmp_path / "out" / "cka.png",
        "debiased CKA",
        row_label="wav2vec2",
        col_label="hubert",
    )
    assert path == tmp_path / "out" / "cka.png"
    assert path.stat().st_size > 5000
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 300
    assert [p.name for p in path.parent.iterdir()] == ["cka.png"]  # no temporary file left behind

    big = plot_heatmap(
        rng.random((30, 30)), [str(k) for k in range(30)], [str(k) for k in range(30)], tmp_path / "big.png"
    )
    assert big.stat().st_size > 5000


def test_rejects_shape_mismatches(tmp_path):
    with pytest.raises(ValueError, match="does not match"):
        plot_heatmap(np.zeros((3, 2)), ["a", "b", "c"], ["x"], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="does not match"):
        plot_heatmap(np.zeros((3, 2)), ["a", "b"], ["x", "y"], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="2-D"):
        plot_heatmap(np.zeros(3), ["a", "b", "c"], ["x"], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="vmin"):
        plot_heatmap(np.zeros((1, 1)), ["a"], ["x"], tmp_path / "bad.png", vmin=1.0, vmax=0.0)
    assert not (tmp_path / "bad.png").exists()
