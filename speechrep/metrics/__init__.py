"""Disentanglement metrics (after disentanglement_lib) and latent read-out evaluation.

One module per metric, each with the paper, the formula, disentanglement_lib's defaults as keyword
defaults and any deviation from the library in its docstring. Arrays are rows = points:
``codes`` (N, D), ``factors`` (N, K) of discrete values.

Fixed data (codes, factors): :func:`compute_mig`, :func:`compute_dci`, :func:`compute_sap`,
:func:`compute_modularity_explicitness`, :func:`compute_irs`, :func:`compute_unsupervised_metrics`
(Gaussian total correlation, mean pairwise MI). Interventional (encoder + :class:`Sampler`):
:func:`compute_beta_vae`, :func:`compute_factor_vae`. Front door: :func:`evaluate_representation`,
:func:`evaluate_encoder` -> :class:`MetricTable`. Read-out: :func:`grouped_cv_accuracy`,
:func:`classify_latents`, :func:`kmeans_clustering`.
"""

from speechrep.metrics.beta_vae import BetaVAEScore, compute_beta_vae
from speechrep.metrics.dci import DCIScore, completeness, compute_dci, disentanglement
from speechrep.metrics.evaluate import MetricRow, MetricTable, evaluate_encoder, evaluate_representation
from speechrep.metrics.factor_vae import FactorVAEScore, compute_factor_vae
from speechrep.metrics.irs import IRSScore, compute_irs
from speechrep.metrics.latent_classification import (
    ClusteringScore,
    CVAccuracy,
    classify_latents,
    grouped_cv_accuracy,
    hungarian_accuracy,
    kmeans_clustering,
)
from speechrep.metrics.mig import MIGScore, compute_mig
from speechrep.metrics.modularity_explicitness import (
    ModularityExplicitnessScore,
    compute_modularity_explicitness,
    modularity,
)
from speechrep.metrics.sap import SAPScore, compute_sap
from speechrep.metrics.total_correlation import (
    UnsupervisedScores,
    compute_unsupervised_metrics,
    gaussian_total_correlation,
    mean_pairwise_mutual_info,
)
from speechrep.metrics.utils import (
    Sampler,
    discrete_entropy,
    discrete_mutual_info,
    generate_batch_factor_code,
    histogram_discretize,
)

__all__ = [
    "BetaVAEScore",
    "CVAccuracy",
    "ClusteringScore",
    "DCIScore",
    "FactorVAEScore",
    "IRSScore",
    "MIGScore",
    "MetricRow",
    "MetricTable",
    "ModularityExplicitnessScore",
    "SAPScore",
    "Sampler",
    "UnsupervisedScores",
    "classify_latents",
    "completeness",
    "compute_beta_vae",
    "compute_dci",
    "compute_factor_vae",
    "compute_irs",
    "compute_mig",
    "compute_modularity_explicitness",
    "compute_sap",
    "compute_unsupervised_metrics",
    "discrete_entropy",
    "discrete_mutual_info",
    "disentanglement",
    "evaluate_encoder",
    "evaluate_representation",
    "gaussian_total_correlation",
    "generate_batch_factor_code",
    "grouped_cv_accuracy",
    "histogram_discretize",
    "hungarian_accuracy",
    "kmeans_clustering",
    "mean_pairwise_mutual_info",
    "modularity",
]
