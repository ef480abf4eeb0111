"""Fixtures of the upstream tests (helpers live in ``upstream_helpers.py``)."""

from __future__ import annotations

import pytest
from upstream_helpers import tiny

from speechrep.upstream import HFSpeechUpstream


@pytest.fixture(scope="module")
def tiny_base() -> HFSpeechUpstream:
    return tiny("wav2vec2")


@pytest.fixture(scope="module")
def tiny_large() -> HFSpeechUpstream:
    return tiny("wav2vec2", large=True)
