"""Running one gate: honour `enabled` and `waive`, agree on the verdict across processes, record it,
halt on failure. The stages call `gates(GATE, compute)` with the gate's declaration; what a gate
measures is theirs to say. No gate is named here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Optional

from ..checks.base.gate import Gate
from ..checks.base.registry import explainer
from ..checks.base.verdict import Verdict, skipped
from ..errors import GateHalt
from ..record.run_record import RunRecord
from . import distributed


class GateRunner:
    def __init__(
        self, settings: Any, accelerator: Any, record: RunRecord, passed_before: Optional[dict[str, Verdict]] = None
    ) -> None:
        self.settings, self.accelerator, self.record = settings, accelerator, record
        self.stage = ""
        self.passed_before = passed_before or {}  # a resumed run's gates, passed before it stopped

    def __call__(self, gate: Gate, compute: Callable[[Any], Verdict]) -> Verdict:
        settings = getattr(self.settings, gate.name)
        start = time.perf_counter()
        if gate.name in self.passed_before:  # recorded as passed before the resume, not run again
            verdict = self.passed_before[gate.name]
        else:
            try:
                verdict = distributed.agree(
                    self.accelerator, f"{self.stage}/{gate.name}", lambda: decide(gate, settings, compute)
                )
            except Exception as error:  # e.g. the gate read an item whose data are bad: say that, not its verdict
                owner = explainer(error)
                if owner is None or owner.explain is None:
                    raise
                verdict = owner.explain(error, f"gate {gate.name}")
        self.record.verdict(self.stage, verdict, time.perf_counter() - start)
        if verdict.status == "failed":
            raise GateHalt(self.stage, verdict)
        return verdict

    def explained(self, error: BaseException, where: str) -> None:
        """An error raised outside any gate (e.g. setup's output-shape probe read a bad item): when a gate's
        verdict stands for it, run that gate on it (recorded; halts unless waived). Otherwise nothing."""
        owner = explainer(error)
        if owner is not None and owner.explain is not None:
            explain = owner.explain
            self(owner, lambda s: explain(error, where))


def decide(gate: Gate, settings: Any, compute: Callable[[Any], Verdict]) -> Verdict:
    if not settings.enabled:
        return skipped(gate, f"turned off <gates.{gate.name}.enabled=false>")
    verdict = compute(settings)
    if not verdict.passed and settings.waive:
        verdict = verdict.waived(settings.waive)
    return verdict
