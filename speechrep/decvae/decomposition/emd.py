"""Empirical mode decomposition (Huang et al., Proc. R. Soc. A 454, 1998) through PyEMD (``emd-signal``).

Sifting splits a signal into intrinsic mode functions (IMFs), highest frequency first, and a
residue (trend) with ``Σ IMFs + residue = x`` exactly. DecVAE (Ziogas et al., 2026) runs PyEMD's
``EMD`` with a pchip spline, at most ``NoC`` IMFs and the stopping thresholds below, on each frame.
Here the IMFs are the candidates (grouped or padded to ``NoC`` by the shared rules of
:mod:`~speechrep.decvae.decomposition.base`) and PyEMD's residue is the residue, so the components
plus the residue reconstruct the signal exactly (also when a low-power IMF is dropped: it joins the
residue). PyEMD is sequential numpy; signals are decomposed one after the other on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PyEMD import EMD
from torch import Tensor

from speechrep.decvae.decomposition.base import Decomposition, RawComponents


class EMDDecomposition(Decomposition):
    """PyEMD's EMD, at most ``max_imf`` IMFs per signal (default: ``n_components``).

    Args:
        max_imf: the most IMFs sifted (PyEMD's ``max_imf``; ``-1``: until the stopping criteria).
        spline_kind, max_iteration, energy_ratio_thr, std_thr, svar_thr, total_power_thr,
            range_thr: PyEMD's ``EMD`` settings (defaults: the DecVAE reference).
        **kwargs: see :class:`~speechrep.decvae.decomposition.base.Decomposition`.
    """

    name = "emd"

    def __init__(
        self,
        n_components: int,
        max_imf: int | None = None,
        spline_kind: str = "pchip",
        max_iteration: int = 1000,
        energy_ratio_thr: float = 5e-3,
        std_thr: float = 0.1,
        svar_thr: float = 0.01,
        total_power_thr: float = 1e-4,
        range_thr: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(n_components, **kwargs)
        self.max_imf = int(max_imf if max_imf is not None else n_components)
        self.emd_settings = {
            "spline_kind": spline_kind,
            "MAX_ITERATION": int(max_iteration),
            "energy_ratio_thr": float(energy_ratio_thr),
            "std_thr": float(std_thr),
            "svar_thr": float(svar_thr),
            "total_power_thr": float(total_power_thr),
            "range_thr": float(range_thr),
        }

    def _settings(self) -> dict[str, Any]:
        return {"max_imf": self.max_imf, **self.emd_settings}

    def _candidates(self, x: Tensor) -> RawComponents:
        signals = x.detach().cpu().numpy().astype(np.float64)
        emd = EMD(**self.emd_settings)
        imfs, residues = [], []
        for signal in signals:
            emd.emd(signal, max_imf=self.max_imf)
            found, residue = emd.get_imfs_and_residue()
            imfs.append(found[::-1])  # PyEMD sifts high → low frequency
            residues.append(residue)
        most = max(1, max(len(i) for i in imfs))
        comps = np.zeros((len(signals), most, signals.shape[-1]))
        valid = np.zeros((len(signals), most), dtype=bool)
        for row, found in enumerate(imfs):
            comps[row, : len(found)] = found
            valid[row, : len(found)] = True
        return RawComponents(
            torch.from_numpy(comps).to(x.device, x.dtype),
            torch.from_numpy(valid).to(x.device),
            torch.from_numpy(np.stack(residues)).to(x.device, x.dtype),
        )
