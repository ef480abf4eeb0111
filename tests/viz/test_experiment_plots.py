"""Layer order, one experiment's plots and the combined layer-wise figure from results.json files."""

from __future__ import annotations

import json

import pytest

from speechrep.analysis.experiments.results import ExperimentResult, read_results, write_results
from speechrep.viz.experiments import combine_layerwise, plot_results
from speechrep.viz.layerwise import layer_order


def test_layer_order_is_model_order():
    names = ["tf.10", "tf.2", "cnn.6", "mel.20ms", "cnn.0", "tf.0", "mel", "tf.1", "zz"]
    assert layer_order([*names, "tf.2"]) == [
        "mel",
        "mel.20ms",
        "cnn.0",
        "cnn.6",
        "tf.0",
        "tf.1",
        "tf.2",
        "tf.10",
        "zz",
    ]


def write(tmp_path, experiment: str, layers: dict, measures=("score",), **extra) -> str:
    result = ExperimentResult(
        analysis="test", ylabel="score", primary=measures[0], measures=list(measures), layers=layers, **extra
    )
    return str(write_results(tmp_path / experiment, experiment, result, {"seed": 3}, 3))


def test_results_files_round_trip_with_nan_as_null(tmp_path):
    layers = {
        "up": {"tf.0": {"score": float("nan"), "sizes": [1, 2], "inner": {"a": 1}}, "tf.1": {"score": 0.5}}
    }
    path = write(tmp_path, "exp", layers)
    record = read_results(tmp_path / "exp")
    assert record["layers"]["up"]["tf.0"]["score"] is None and record["seed"] == 3
    header, first, second = (tmp_path / "exp" / "results.csv").read_text().splitlines()
    assert header == "upstream,layer,score,sizes,inner.a"
    assert first == 'up,tf.0,nan,"[1, 2]",1' and second.startswith("up,tf.1,0.5")
    assert json.loads(open(path).read())["versions"]["python"]


def test_plot_results_writes_curves_and_heatmaps(tmp_path):
    matrix = {
        "rows_from": "a",
        "cols_from": "b",
        "rows": ["tf.0", "tf.1"],
        "cols": ["tf.0"],
        "values": [[1.0], [None]],
    }
    path = write(
        tmp_path,
        "abx",
        {"a": {"tf.0": {"within": 0.2, "across": 0.3}, "tf.1": {"within": 0.1, "across": 0.25}}},
        measures=("within", "across"),
        chance={"a": {"within": 0.5}},
        matrices=[matrix],
    )
    written = plot_results(path)
    assert sorted(p.name for p in written) == ["heatmap_a__b.png", "layerwise.png"]
    cells = (tmp_path / "abx" / "matrices.csv").read_text().splitlines()
    assert cells == ["rows_from,row,cols_from,col,value", "a,tf.0,b,tf.0,1.0", "a,tf.1,b,tf.0,"]
    assert all(p.stat().st_size > 5_000 for p in written)


def test_combine_layerwise_overlays_experiments_with_different_layers(tmp_path):
    mel = write(
        tmp_path, "cca_mel", {"m": {"cnn.0": {"score": 0.9}, "tf.0": {"score": 0.5}, "tf.1": {"score": 0.4}}}
    )
    phone = write(
        tmp_path,
        "cca_phone",
        {"m": {"tf.0": {"score": 0.2}, "tf.1": {"score": 0.6}}, "n": {"tf.0": {"score": 0.1}}},
    )
    figure = combine_layerwise([mel, tmp_path / "cca_phone", phone], tmp_path / "all.png", normalise=True)
    assert figure.stat().st_size > 10_000
    with pytest.raises(ValueError, match="no measure 'within'"):
        combine_layerwise([mel], tmp_path / "x.png", measure="within")
    with pytest.raises(ValueError, match="not an experiment result"):
        (tmp_path / "other.json").write_text("{}")
        combine_layerwise([tmp_path / "other.json"], tmp_path / "y.png")
