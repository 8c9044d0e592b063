"""TensorBoard logging, from the main process only.

Scalars are handed to the writer in bursts: each event handed over wakes the writer's thread,
which then takes the GIL from the training loop; logging the loss every 10 steps that way cost a
small model's loop 3-4% per step. Bursts of up to `BURST` events, or every `BURST_S` seconds,
cost it next to nothing (TensorBoard itself writes to disk every two minutes).
"""

from __future__ import annotations

import numbers
import time
from pathlib import Path
from typing import Any, Optional

from ..checks.base.verdict import Verdict

BURST, BURST_S = 64, 2.0


class Tracker:
    """A thin SummaryWriter wrapper that is a no-op on non-main processes."""

    def __init__(self, log_dir: Path, enabled: bool) -> None:
        self.log_dir = log_dir
        self._writer: Optional[Any] = None
        self._pending: list[tuple[str, float, int, float]] = []  # (tag, value, step, wall time)
        self._handed = time.monotonic()
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(log_dir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self._writer is not None:
            self._pending.append((tag, value, step, time.time()))
            if len(self._pending) >= BURST or time.monotonic() - self._handed > BURST_S:
                self.flush()

    def flush(self) -> None:
        """Hand the pending scalars to the writer, with the wall time each was logged at."""
        for tag, value, step, wall_time in self._pending:
            self._writer.add_scalar(tag, value, step, walltime=wall_time)
        self._pending.clear()
        self._handed = time.monotonic()

    def gate(self, verdict: Verdict) -> None:
        """Each gate's measured value and pass/fail, under gates/<name>/."""
        if self._writer is None:
            return
        if isinstance(verdict.value, numbers.Real) and not isinstance(verdict.value, bool):
            self._writer.add_scalar(f"gates/{verdict.gate}/value", float(verdict.value), 0)
        self._writer.add_scalar(f"gates/{verdict.gate}/passed", float(verdict.passed), 0)
        if verdict.margin is not None and abs(verdict.margin) < float("inf"):
            self._writer.add_scalar(f"gates/{verdict.gate}/margin", float(verdict.margin), 0)

    def image(self, tag: str, pixels: Any, step: int) -> None:
        """An [H, W, 3] uint8 image (a figure), under `tag` at `step`."""
        if self._writer is not None:
            self._writer.add_image(tag, pixels, step, dataformats="HWC")

    def png(self, tag: str, png: bytes, height: int, width: int, step: int) -> None:
        """An image already encoded as PNG (drawn in the background), logged without re-encoding it."""
        if self._writer is None:
            return
        from tensorboard.compat.proto.summary_pb2 import Summary

        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=png)
        self._writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    def hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        if self._writer is not None:
            self._writer.add_hparams(hparams, {f"hparam/{k}": v for k, v in metrics.items()}, run_name=".")

    def close(self) -> None:
        if self._writer is not None:
            self.flush()
            self._writer.close()
