"""The front door: one table for fixed data and for an encoder, sizes, seeds, chance and CSV."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from speechrep.metrics import (
    MetricTable,
    compute_irs,
    compute_mig,
    evaluate_encoder,
    evaluate_representation,
)

SMALL = {
    "mig": {"num_train": 1000},
    "dci": {"num_train": 300, "num_test": 150, "fast": True},
    "sap": {"num_train": 600, "num_test": 300},
    "modularity_explicitness": {"num_train": 600, "num_test": 300},
    "irs": {"num_train": 1000},
    "unsupervised": {"num_train": 1000},
}
ENCODER_SMALL = {
    **SMALL,
    "beta_vae": {"batch_size": 16, "num_train": 100, "num_eval": 100},
    "factor_vae": {"batch_size": 16, "num_train": 100, "num_eval": 100, "num_variance_estimate": 500},
}


@pytest.fixture(scope="module")
def representation_tables(metric_code_set):
    return {
        kind: evaluate_representation(codes, metric_code_set.factors, options=SMALL, chance=True)
        for kind, codes in metric_code_set.codes.items()
    }


def test_table_has_every_fixed_data_score_and_the_ordering(representation_tables):
    perfect, rotated, random = (representation_tables[k] for k in ("perfect", "rotated", "random"))
    assert set(perfect.scores()) == {
        "mig/discrete_mig",
        "dci/disentanglement",
        "dci/completeness",
        "dci/informativeness_train",
        "dci/informativeness_test",
        "sap/sap_score",
        "modularity_explicitness/modularity_score",
        "modularity_explicitness/explicitness_score_train",
        "modularity_explicitness/explicitness_score_test",
        "irs/irs",
        "irs/num_active_dims",
        "unsupervised/gaussian_total_correlation",
        "unsupervised/gaussian_wasserstein_correlation",
        "unsupervised/gaussian_wasserstein_correlation_norm",
        "unsupervised/mutual_info_score",
    }
    for metric, score in [
        ("mig", "discrete_mig"),
        ("dci", "disentanglement"),
        ("dci", "completeness"),
        ("sap", "sap_score"),
        ("modularity_explicitness", "modularity_score"),
        ("irs", "irs"),
    ]:
        assert perfect.value(metric, score) > rotated.value(metric, score), (metric, score)
        assert perfect.value(metric, score) > random.value(metric, score), (metric, score)
    for score in ("discrete_mig", "disentanglement", "completeness", "explicitness_score_test"):
        metric = {"discrete_mig": "mig", "explicitness_score_test": "modularity_explicitness"}.get(
            score, "dci"
        )
        assert perfect.value(metric, score) >= 0.9


def test_same_numbers_as_the_metric_functions_and_recorded_sizes(representation_tables, metric_code_set):
    table = representation_tables["perfect"]
    codes, factors = metric_code_set.codes["perfect"], metric_code_set.factors
    assert table.value("mig", "discrete_mig") == compute_mig(codes, factors, num_train=1000).discrete_mig
    assert table.value("irs", "irs") == compute_irs(codes, factors, num_train=1000).irs
    rows = {(row.metric, row.score): row for row in table.rows}
    assert (rows["dci", "completeness"].num_train, rows["dci", "completeness"].num_test) == (300, 150)
    assert (rows["mig", "discrete_mig"].num_train, rows["mig", "discrete_mig"].num_test) == (1000, None)
    assert (table.seed, table.num_points, table.num_codes, table.num_factors) == (0, 3000, 5, 3)


def test_chance_column_is_a_permutation_null(representation_tables):
    random, perfect = representation_tables["random"], representation_tables["perfect"]
    for row in random.rows:
        if row.metric in ("mig", "sap", "irs", "modularity_explicitness") and row.score != "num_active_dims":
            assert row.chance == pytest.approx(row.value, abs=0.06), row
    perfect_rows = {(r.metric, r.score): r for r in perfect.rows}
    assert perfect_rows["mig", "discrete_mig"].chance < 0.05
    assert perfect_rows["unsupervised", "mutual_info_score"].chance is None  # no factors involved


def test_to_csv_and_as_dict(representation_tables, tmp_path):
    table = representation_tables["perfect"]
    path = tmp_path / "out" / "metrics.csv"
    table.to_csv(path)
    with open(path, newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == len(table.rows)
    first = lines[0]
    assert set(first) == {"metric", "score", "value", "chance", "num_train", "num_test", "seed", "num_points"}
    assert (first["metric"], first["seed"], first["num_points"]) == ("mig", "0", "3000")
    assert float(first["value"]) == table.rows[0].value
    data = table.as_dict()
    assert data["seed"] == 0 and data["source"] == "representation" and len(data["rows"]) == len(table.rows)
    assert "scikit-learn" in data["versions"]
    json.dumps(data)  # JSON-ready as it stands
    assert "mig/discrete_mig" in str(table)


def test_groups_subset_and_validation(metric_code_set):
    codes, factors = metric_code_set.codes["perfect"], metric_code_set.factors
    table = evaluate_representation(
        codes, factors, metrics=["dci"], seed=4, options={"dci": SMALL["dci"]}, groups=np.arange(3000) // 20
    )
    assert isinstance(table, MetricTable) and table.seed == 4
    assert {row.metric for row in table.rows} == {"dci"}
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate_representation(codes, factors, metrics=["beta_vae"])
    with pytest.raises(ValueError, match="not run"):
        evaluate_representation(codes, factors, metrics=["mig"], options={"dci": {}})


def test_evaluate_encoder_adds_the_interventional_scores(metric_encoders, metric_sampler):
    tables = {
        kind: evaluate_encoder(encoder, metric_sampler, options=ENCODER_SMALL, chance=True)
        for kind, encoder in metric_encoders.items()
        if kind != "rotated"
    }
    perfect, random = tables["perfect"], tables["random"]
    assert perfect.source == "encoder" and perfect.num_points == 1000  # the largest fixed-data need
    for metric in ("beta_vae", "factor_vae"):
        assert perfect.value(metric, "eval_accuracy") >= 0.99
        assert random.value(metric, "eval_accuracy") < 0.6
        row = next(r for r in perfect.rows if (r.metric, r.score) == (metric, "eval_accuracy"))
        assert (row.num_train, row.num_test, row.chance) == (100, 100, pytest.approx(1 / 3))
    assert perfect.value("dci", "disentanglement") > 0.9 and perfect.value("mig", "discrete_mig") > 0.9


def test_evaluate_encoder_interventional_only(metric_encoders, metric_sampler):
    table = evaluate_encoder(
        metric_encoders["perfect"],
        metric_sampler,
        metrics=["beta_vae"],
        options={"beta_vae": ENCODER_SMALL["beta_vae"]},
    )
    assert [row.score for row in table.rows] == ["train_accuracy", "eval_accuracy"]
    assert table.num_factors == 3 and table.num_points == 0
