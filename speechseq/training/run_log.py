"""A training run's per-epoch log: metrics.jsonl and TensorBoard, written by rank 0 only."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from speechseq.fsutil import atomic_write_text

log = logging.getLogger(__name__)


class RunLogger:
    """metrics.jsonl + TensorBoard, rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool):
        self.enabled = enabled
        self.metrics_path = out_dir / "metrics.jsonl"
        self.tb = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(out_dir / "tb"))
            except ImportError:
                log.warning("tensorboard is not installed; logging to metrics.jsonl only")

    def epoch(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, row["epoch"])
            self.tb.flush()

    def rewrite(self, rows: list[dict]) -> None:
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
