"""Not bugs in the code, but what happens to real runs: crashes on one process, signals mid-run, a
machine dying while it writes a checkpoint, a slow model."""

from __future__ import annotations

import os
import signal
import sys
import time

from saneloop.models import MLP


def _process() -> int:
    return int(os.environ.get("RANK", "0"))


class CrashOnProcessMLP(MLP):
    """A crash in evaluation on one process only: process `process` (0 in a one-process run) raises
    in its evaluation pass (eval mode, a batch of more than 100; the gates' probe batches hold 64)."""

    def __init__(self, *args, process: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.process = process

    def forward(self, x):
        if _process() == self.process and not self.training and len(x) > 100:
            raise RuntimeError(f"planted crash on process {self.process}")
        return super().forward(x)


class SlowMLP(MLP):
    """Not a bug: the default MLP, slowed down so a test can signal it mid-train (same numbers)."""

    def __init__(self, *args, delay: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.delay = delay

    def forward(self, x):
        if self.delay:
            time.sleep(self.delay)
        return super().forward(x)


def die_halfway_through_checkpoint(after: int, marker: str) -> None:
    """The machine's fault, not the code's: the process is killed while it writes checkpoint
    number `after + 1`. This writes half of its bytes, then creates `marker` and waits to be
    killed (run in a subprocess that the test SIGKILLs)."""
    import io
    from pathlib import Path

    from saneloop.engine import checkpoint

    real, calls = checkpoint._dump, []

    def dump(payload, handle):
        calls.append(1)
        if len(calls) <= after:
            return real(payload, handle)
        buffer = io.BytesIO()
        real(payload, buffer)
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        handle.flush()
        os.fsync(handle.fileno())
        Path(marker).touch()
        time.sleep(600)

    checkpoint._dump = dump


class SignalMLP(MLP):
    """Not a bug: a signal arrives mid-run. At its `signal_at`-th forward call made from inside the
    function named `signal_in` (e.g. `_fit`, the train loop), the model signals its own process."""

    def __init__(self, *args, signal_in: str = "_fit", signal_at: int = 10, signal_name: str = "SIGINT", **kwargs):
        super().__init__(*args, **kwargs)
        self.signal_in, self.signal_at, self.signal_name, self.calls = signal_in, signal_at, signal_name, 0

    def forward(self, x):
        if self.training and _called_from(self.signal_in):  # training steps, not the watch's eval passes
            self.calls += 1
            if self.calls == self.signal_at:
                os.kill(os.getpid(), getattr(signal, self.signal_name))
        return super().forward(x)


class CrashInEvalMLP(MLP):
    """Bug: the model breaks in the final evaluation (e.g. a code path only the evaluate stage takes)."""

    def forward(self, x):
        if not self.training and _called_from("predict_all", module="saneloop.stages.evaluate"):
            raise RuntimeError("planted crash in evaluate")
        return super().forward(x)


def _called_from(function: str, module: str | None = None) -> bool:
    """Is a function of this name on the call stack (e.g. `_fit`: the train loop), and (if given) a
    function of `module` below it?"""
    frame, found = sys._getframe(1), False
    while frame is not None:
        found = found or frame.f_code.co_name == function
        if found and (module is None or frame.f_globals.get("__name__") == module):
            return True
        frame = frame.f_back
    return False
