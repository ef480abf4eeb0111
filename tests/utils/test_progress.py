"""Progress bars: an explicit choice wins; otherwise only on a terminal outside pytest."""

from __future__ import annotations

import io
import sys

from speechrep.utils.progress import show_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_explicit_choice_wins_and_default_follows_the_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert show_progress(True) is True and show_progress(False) is False
    assert show_progress(None) is False  # pytest is running (PYTEST_CURRENT_TEST is set)
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert show_progress(None) is True
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert show_progress(None) is False
