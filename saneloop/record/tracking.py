"""TensorBoard logging, from the main process only."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any, Optional

from ..checks.verdict import Verdict


class Tracker:
    """A thin SummaryWriter wrapper that is a no-op on non-main processes."""

    def __init__(self, log_dir: Path, enabled: bool) -> None:
        self.log_dir = log_dir
        self._writer: Optional[Any] = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(log_dir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self._writer is not None:
            self._writer.add_scalar(tag, value, step)

    def gate(self, verdict: Verdict) -> None:
        """Each gate's measured value and pass/fail, under gates/<name>/."""
        if self._writer is None:
            return
        if isinstance(verdict.value, numbers.Real) and not isinstance(verdict.value, bool):
            self._writer.add_scalar(f"gates/{verdict.gate}/value", float(verdict.value), 0)
        self._writer.add_scalar(f"gates/{verdict.gate}/passed", float(verdict.passed), 0)

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
            self._writer.close()
