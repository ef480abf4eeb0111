"""Decomposition models of DecVAE: each signal → exactly ``NoC`` components, low to high frequency.

Methods: :class:`FilterDecomposition` (band-passes on detected spectral peaks),
:class:`EWTDecomposition` (empirical wavelets), :class:`VMDDecomposition` (variational mode
decomposition in torch, batched, GPU when present) and :class:`EMDDecomposition` (PyEMD). All share
the grouping/padding rules and the output container of :mod:`.base`; :mod:`.quality` measures
reconstruction and orthogonality; :mod:`.cache` writes decomposed corpora to the feature store.
"""

from speechrep.decvae.decomposition.base import (
    Decomposition,
    DecompositionOutput,
    centre_frequency,
    frame_signal,
)
from speechrep.decvae.decomposition.cache import decompose_corpus, decompose_from_config, store_quality
from speechrep.decvae.decomposition.emd import EMDDecomposition
from speechrep.decvae.decomposition.ewt import EWTDecomposition
from speechrep.decvae.decomposition.filter import FilterDecomposition
from speechrep.decvae.decomposition.peaks import PeakSettings, detect_bands
from speechrep.decvae.decomposition.quality import QualityAccumulator, QualityReport, quality
from speechrep.decvae.decomposition.upstream import DecompositionUpstream, Preprocessing
from speechrep.decvae.decomposition.vmd import VMDDecomposition, VMDResult, vmd

__all__ = [
    "Decomposition",
    "DecompositionOutput",
    "DecompositionUpstream",
    "EMDDecomposition",
    "EWTDecomposition",
    "FilterDecomposition",
    "PeakSettings",
    "Preprocessing",
    "QualityAccumulator",
    "QualityReport",
    "VMDDecomposition",
    "VMDResult",
    "centre_frequency",
    "decompose_corpus",
    "decompose_from_config",
    "detect_bands",
    "frame_signal",
    "quality",
    "store_quality",
    "vmd",
]
