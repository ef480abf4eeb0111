"""How many processes a launcher started, and the check that accelerate really joined them all.

``accelerate launch`` (like ``torchrun``) sets ``WORLD_SIZE`` in every process it starts. When
accelerate then runs each process alone (``launch --multi_gpu`` on a machine without CUDA and
without ``cpu=True``), every process would do all the work and write the same outputs: refuse that.
"""

from __future__ import annotations

import os


def launched_processes() -> int:
    """The number of processes the launcher started (``WORLD_SIZE``; 1 when not launched)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def refuse_unjoined_processes(joined: int, consequence: str, remedy: str) -> None:
    """Raise ``RuntimeError`` when fewer than the launched processes were joined into one group."""
    launched = launched_processes()
    if launched > joined:
        raise RuntimeError(
            f"{launched} processes were launched (WORLD_SIZE) but accelerate joined {joined}, so "
            f"{consequence}. {remedy}"
        )
