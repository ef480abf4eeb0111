"""Metrics of a run: one JSON object per line in ``metrics.jsonl``, optionally mirrored to wandb.

Every line holds ``step``, ``epoch`` and the metrics logged at that step (``train/*`` or ``val/*``).
Only the main process writes. When a run resumes from a checkpoint at step ``s``, lines after ``s``
(written by the interrupted run after its last checkpoint) are dropped, so the file of a resumed run
equals that of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from speechrep.utils.io import atomic_write_text


class MetricLogger:
    """Appends metric lines to ``path`` (main process only) and forwards them to accelerate's trackers."""

    def __init__(self, path: str | os.PathLike, accelerator: Accelerator) -> None:
        self.path = Path(path)
        self.accelerator = accelerator

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (and a line cut short by a crash)."""
        if not self.accelerator.is_main_process or not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("step", step + 1) <= step:
                kept.append(line + "\n")
        atomic_write_text(self.path, "".join(kept))

    def log(self, step: int, epoch: int, metrics: Mapping[str, float]) -> None:
        """Write one line ``{"step", "epoch", **metrics}`` and send ``metrics`` to the trackers."""
        if self.accelerator.is_main_process:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, "epoch": epoch, **metrics}) + "\n")
        self.accelerator.log(dict(metrics), step=step)


def start_wandb(
    accelerator: Accelerator, out_dir: Path, project: str, mode: str, name: str | None, config: dict[str, Any]
) -> None:
    """Start (or resume) the wandb run of ``out_dir`` through accelerate.

    The run id is kept in ``out_dir/wandb_run_id.txt`` so that a resumed training continues the
    same wandb run. ``WANDB_MODE`` in the environment overrides ``mode`` (tests set ``disabled``).
    """
    if not accelerator.is_main_process:  # trackers live on the main process only
        return
    id_file = out_dir / "wandb_run_id.txt"
    if not id_file.is_file():
        atomic_write_text(id_file, secrets.token_hex(4) + "\n")
    run_id = id_file.read_text(encoding="utf-8").strip()
    init = {
        "id": run_id,
        "resume": "allow",
        "mode": os.environ.get("WANDB_MODE", mode),
        "dir": str(out_dir),
        "name": name,
    }
    accelerator.init_trackers(project, config=config, init_kwargs={"wandb": init})
