"""Layer-wise analyses of stored features (sklearn-style estimators and plain functions)."""

from speechrep.analysis.separability import class_separability

__all__ = ["class_separability"]
