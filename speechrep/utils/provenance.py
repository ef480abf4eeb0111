"""Provenance recorded next to every number speechrep writes: package versions and the platform."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

_PACKAGES = (
    "speechrep",
    "torch",
    "torchaudio",
    "transformers",
    "numpy",
    "scipy",
    "scikit-learn",
    "accelerate",
)


def environment_versions() -> dict[str, str]:
    """Versions of Python and of the packages that change numbers, for results and store metadata."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
