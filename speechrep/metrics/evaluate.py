"""Front door of the metric suite: one call, one table.

- :func:`evaluate_representation` scores fixed ``(codes, factors)`` data with the metrics that need
  nothing else: MIG, DCI, SAP, modularity/explicitness, IRS and the unsupervised scores (Gaussian total
  correlation, Wasserstein correlation, mean pairwise MI).
- :func:`evaluate_encoder` draws ``(codes, factors)`` through an encoder from a
  :class:`~speechrep.metrics.utils.Sampler` for those, and adds the two metrics that need
  interventions (batches in which one factor is held fixed): the β-VAE and FactorVAE scores.

Which metric needs what: IRS is interventional in its paper, but disentanglement_lib estimates it by
conditioning on a sample of crossed factors, so it runs on fixed data here too. The β-VAE and FactorVAE
scores cannot be computed from an observational sample in general and exist only in
:func:`evaluate_encoder`.

Sizes and seeds: every metric runs with disentanglement_lib's defaults unless ``options`` overrides
them, e.g. ``options={"dci": {"fast": True, "num_train": 2000}}``. Each metric draws its rows and its
random numbers from ``np.random.default_rng(seed)`` of its own, so a metric's value does not depend on
which other metrics ran. :func:`evaluate_encoder` draws one pool of points, large enough for the
largest fixed-data metric, and lets each metric subsample it (disentanglement_lib draws a fresh sample
per metric; both are i.i.d. draws from the same process). The sizes each metric actually used are
recorded in the table.

Chance levels: ``chance=True`` recomputes every fixed-data metric with the factors shuffled across
rows (a permutation null: same codes, same factor marginals, no relation), reported next to each score.
It matters for modularity and IRS, whose chance levels are far from 0 and depend on the data.
"""

from __future__ import annotations

import csv
import inspect
import io
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from speechrep.metrics.beta_vae import compute_beta_vae
from speechrep.metrics.dci import compute_dci
from speechrep.metrics.factor_vae import compute_factor_vae
from speechrep.metrics.irs import compute_irs
from speechrep.metrics.mig import compute_mig
from speechrep.metrics.modularity_explicitness import compute_modularity_explicitness
from speechrep.metrics.sap import compute_sap
from speechrep.metrics.total_correlation import compute_unsupervised_metrics
from speechrep.metrics.utils import (
    Encoder,
    Sampler,
    as_rng,
    check_codes_factors,
    generate_batch_factor_code,
    sample_factors,
)
from speechrep.utils.io import atomic_open
from speechrep.utils.provenance import environment_versions

#: Metrics computed from (codes, factors) alone; "unsupervised" ignores the factors.
FIXED_DATA_METRICS: dict[str, Callable[..., Any]] = {
    "mig": compute_mig,
    "dci": compute_dci,
    "sap": compute_sap,
    "modularity_explicitness": compute_modularity_explicitness,
    "irs": compute_irs,
    "unsupervised": compute_unsupervised_metrics,
}
#: Metrics that need an encoder and an interventional sampler.
INTERVENTIONAL_METRICS: dict[str, Callable[..., Any]] = {
    "beta_vae": compute_beta_vae,
    "factor_vae": compute_factor_vae,
}
_GROUPED = {"dci", "sap", "modularity_explicitness"}  # metrics with a train/test split
_CSV_COLUMNS = ("metric", "score", "value", "chance", "num_train", "num_test", "seed", "num_points")


@dataclass(frozen=True)
class MetricRow:
    metric: str
    score: str
    value: float
    num_train: int | None
    num_test: int | None  # held-out points (the eval set of the interventional scores); None if unused
    chance: float | None = None


@dataclass(frozen=True)
class MetricTable:
    """The scores of one representation: one row per (metric, score)."""

    rows: tuple[MetricRow, ...]
    seed: int
    num_points: int  # rows of (codes, factors) the fixed-data metrics drew from (0 if none ran)
    num_codes: int  # code dimensions (0 if only interventional metrics ran)
    num_factors: int
    source: str  # "representation" or "encoder"

    def scores(self) -> dict[str, float]:
        """``{"metric/score": value}`` for every row."""
        return {f"{row.metric}/{row.score}": row.value for row in self.rows}

    def value(self, metric: str, score: str) -> float:
        for row in self.rows:
            if row.metric == metric and row.score == score:
                return row.value
        raise KeyError(f"no score {metric}/{score} in the table")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the metadata (seed, sizes, source, package versions) and every row."""
        return {
            "versions": environment_versions(),
            "seed": self.seed,
            "source": self.source,
            "num_points": self.num_points,
            "num_codes": self.num_codes,
            "num_factors": self.num_factors,
            "rows": [asdict(row) for row in self.rows],
        }

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write one line per row, with the seed and the sizes, atomically."""
        with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
            handle.write(self._csv_text())

    def _csv_text(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_CSV_COLUMNS)
        for row in self.rows:
            writer.writerow(
                [
                    row.metric,
                    row.score,
                    repr(float(row.value)),
                    "" if row.chance is None else repr(float(row.chance)),
                    "" if row.num_train is None else row.num_train,
                    "" if row.num_test is None else row.num_test,
                    self.seed,
                    self.num_points,
                ]
            )
        return buffer.getvalue()

    def __str__(self) -> str:
        width = max((len(f"{r.metric}/{r.score}") for r in self.rows), default=10)
        lines = [f"{'score':<{width}}  {'value':>8}  {'chance':>8}  sizes"]
        for r in self.rows:
            chance = "" if r.chance is None else f"{r.chance:8.4f}"
            sizes = f"{r.num_train}" + ("" if r.num_test is None else f"/{r.num_test}")
            lines.append(f"{r.metric + '/' + r.score:<{width}}  {r.value:8.4f}  {chance:>8}  {sizes}")
        return "\n".join(lines)


def evaluate_representation(
    codes: np.ndarray,
    factors: np.ndarray,
    metrics: Iterable[str] | None = None,
    seed: int = 0,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    groups: np.ndarray | None = None,
    chance: bool = False,
) -> MetricTable:
    """Score ``codes`` (N, D) against discrete ``factors`` (N, K) with the fixed-data metrics.

    ``metrics`` picks a subset of :data:`FIXED_DATA_METRICS` (default: all); ``options`` maps a metric
    name to keyword overrides; ``groups`` (one id per row, e.g. the utterance) keeps whole groups on one
    side of the train/test splits of DCI, SAP and explicitness; ``chance`` adds a permutation null.
    """
    codes, factors = check_codes_factors(codes, factors)
    names = _select(metrics, FIXED_DATA_METRICS)
    options = _check_options(options, names)
    rows = _fixed_data_rows(codes, factors, names, seed, options, groups, chance)
    return MetricTable(tuple(rows), seed, len(codes), codes.shape[1], factors.shape[1], "representation")


def evaluate_encoder(
    encoder: Encoder,
    sampler: Sampler,
    metrics: Iterable[str] | None = None,
    seed: int = 0,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    chance: bool = False,
    batch_size: int = 16,
) -> MetricTable:
    """Score ``encoder`` on data from ``sampler`` with the fixed-data and the interventional metrics.

    ``metrics`` picks from :data:`FIXED_DATA_METRICS` and :data:`INTERVENTIONAL_METRICS` (default:
    all); ``batch_size`` is the encoder batch size when drawing the fixed-data pool.
    """
    available = {**FIXED_DATA_METRICS, **INTERVENTIONAL_METRICS}
    names = _select(metrics, available)
    options = _check_options(options, names)
    fixed = [name for name in names if name in FIXED_DATA_METRICS]
    rows: list[MetricRow] = []
    num_factors = sample_factors(sampler, 1, np.random.default_rng([seed, 2])).shape[1]
    num_points = num_codes = 0
    if fixed:
        pool = max(_points_needed(name, options.get(name, {})) for name in fixed)
        codes, factors = generate_batch_factor_code(encoder, sampler, pool, as_rng(seed), batch_size)
        num_points, num_codes = codes.shape
        rows += _fixed_data_rows(codes, factors, fixed, seed, options, None, chance)
    for name in names:
        if name not in INTERVENTIONAL_METRICS:
            continue
        result = INTERVENTIONAL_METRICS[name](encoder, sampler, seed=seed, **options.get(name, {}))
        for score, value in result.as_dict().items():
            # Without a relation between code and factor, the classifiers guess the fixed factor: 1/K.
            level = 1.0 / num_factors if (chance and score == "eval_accuracy") else None
            rows.append(MetricRow(name, score, float(value), result.num_train, result.num_eval, level))
    return MetricTable(tuple(rows), seed, num_points, num_codes, num_factors, "encoder")


def _fixed_data_rows(
    codes: np.ndarray,
    factors: np.ndarray,
    names: list[str],
    seed: int,
    options: Mapping[str, Mapping[str, Any]],
    groups: np.ndarray | None,
    chance: bool,
) -> list[MetricRow]:
    shuffled = factors[np.random.default_rng([seed, 1]).permutation(len(factors))] if chance else None
    rows: list[MetricRow] = []
    for name in names:
        kwargs = dict(options.get(name, {}))
        if name in _GROUPED and groups is not None:
            kwargs["groups"] = groups
        result = _run_fixed(name, codes, factors, seed, kwargs)
        null_scores: dict[str, float] = {}
        if shuffled is not None and name != "unsupervised":  # the unsupervised scores ignore factors
            null_scores = _run_fixed(name, codes, shuffled, seed, kwargs).as_dict()
        for score, value in result.as_dict().items():
            rows.append(
                MetricRow(
                    name,
                    score,
                    float(value),
                    result.num_train,
                    getattr(result, "num_test", None),
                    null_scores.get(score),
                )
            )
    return rows


def _run_fixed(name: str, codes: np.ndarray, factors: np.ndarray, seed: int, kwargs: dict[str, Any]) -> Any:
    if name == "unsupervised":
        return compute_unsupervised_metrics(codes, seed=seed, **kwargs)
    return FIXED_DATA_METRICS[name](codes, factors, seed=seed, **kwargs)


def _points_needed(name: str, overrides: Mapping[str, Any]) -> int:
    """How many points a fixed-data metric uses with these overrides (its defaults otherwise)."""
    parameters = inspect.signature(FIXED_DATA_METRICS[name]).parameters
    total = 0
    for size in ("num_train", "num_test"):
        if size in parameters:
            value = overrides.get(size, parameters[size].default)
            if value is None:
                raise ValueError(f"{name}: {size}=None (all rows) needs fixed data; give a number")
            total += int(value)
    return total


def _select(metrics: Iterable[str] | None, available: Mapping[str, Any]) -> list[str]:
    if metrics is None:
        return list(available)
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {sorted(available)}")
    if len(set(names)) != len(names):
        raise ValueError(f"metrics listed twice: {names}")
    return names


def _check_options(
    options: Mapping[str, Mapping[str, Any]] | None, names: list[str]
) -> dict[str, dict[str, Any]]:
    options = {name: dict(values) for name, values in (options or {}).items()}
    stray = sorted(set(options) - set(names))
    if stray:
        raise ValueError(f"options given for metrics that are not run: {stray}")
    for name, values in options.items():
        if "seed" in values or "groups" in values:
            raise ValueError(f"{name}: pass seed and groups to the evaluate function, not in options")
    return options
