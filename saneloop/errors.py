"""How a run ends when it does not pass: a typed halt at a gate, or bad input. Exit codes live here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # errors sit below every layer; the verdict a halt carries is only named here
    from .checks.base.verdict import Verdict

# Documented process exit statuses (README, "Exit status").
EXIT_PASSED = 0
EXIT_CRASH = 1  # an unexpected exception: a bug in saneloop or in user code during training
EXIT_INPUT_ERROR = 2  # bad config or bad input, refused before training; report.json status "error"
EXIT_HALTED = 3  # a gate failed; report.json status "halted"
EXIT_INTERRUPTED = 4  # SIGINT/SIGTERM: a checkpoint was saved if train had begun; report.json status "interrupted"


class GateHalt(Exception):
    """A gate failed and was not waived: the run stops at once."""

    def __init__(self, stage: str, verdict: Verdict) -> None:
        super().__init__(f"halted at {stage}/{verdict.gate}: {verdict.message}")
        self.stage = stage
        self.verdict = verdict


class InputError(Exception):
    """Bad config or data that saneloop refuses before training; the message says how to fix it."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM ended the run (a BaseException, like KeyboardInterrupt, so that user code's
    `except Exception` does not swallow it). `checkpoint` is the file saved on the way out, if any."""

    def __init__(self, signal_name: str, step: int | None = None, checkpoint: str | None = None) -> None:
        where = f" at train step {step}" if step is not None else ""
        super().__init__(f"interrupted by {signal_name}{where}")
        self.signal_name = signal_name
        self.step = step
        self.checkpoint = checkpoint
