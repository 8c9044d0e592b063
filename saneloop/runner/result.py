"""What a run returns to the Python API (and what the CLI turns into an exit status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..checks.base.verdict import Verdict


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run: its status and exit code, where it halted, every gate's verdict, the test
    metrics (measured once, at the end) and the validation metrics (what decided), and the run dir
    holding report.json, report.md, figures and weights."""

    status: str  # "passed", "halted", "stopped" (stop_after=STAGE), "error" or "interrupted"
    exit_code: int  # the CLI's exit status (README, "Exit status")
    run_dir: Path
    halted_at: Optional[dict[str, str]] = None  # {"stage": ..., "gate": ...}
    verdicts: list[Verdict] = field(default_factory=list)  # in the order the run met them
    metrics: dict[str, Any] = field(default_factory=dict)
    headline: Optional[str] = None  # the metric that says whether the run is any good
    error: Optional[str] = None
    report: dict[str, Any] = field(default_factory=dict)  # report.json's content
    val_metrics: dict[str, Any] = field(default_factory=dict)  # the validation set's (`metrics`: the test set's)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def verdict(self, gate: str) -> Verdict:
        """The verdict of the gate named `gate` (KeyError if the run never reached it)."""
        for verdict in self.verdicts:
            if verdict.gate == gate:
                return verdict
        raise KeyError(f"no verdict for gate {gate!r}; the run met: {[v.gate for v in self.verdicts]}")

    def __repr__(self) -> str:
        where = f" at {self.halted_at['stage']}/{self.halted_at['gate']}" if self.halted_at else ""
        score = f", {self.headline}={self.metrics.get(self.headline)}" if self.headline in self.metrics else ""
        return f"RunResult({self.status}{where}{score}, run_dir={str(self.run_dir)!r})"
