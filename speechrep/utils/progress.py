"""When to draw progress bars: as asked, else only for a person watching a terminal."""

from __future__ import annotations

import os
import sys


def show_progress(progress: bool | None) -> bool:
    """``progress`` when given; ``None``: when stderr is a terminal and pytest is not running."""
    if progress is not None:
        return progress
    return sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ
