"""Running one gate: honour `enabled` and `waive`, agree on the verdict across processes, record it,
halt on failure. The stages call `gates(name, compute)`; what a gate measures is theirs to say."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Optional

from ..checks.full_pass import met_by
from ..checks.verdict import Verdict, skipped
from ..data.inspection import BadBatch
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

    def __call__(self, name: str, compute: Callable[[Any], Verdict]) -> Verdict:
        settings = getattr(self.settings, name)
        start = time.perf_counter()
        if name in self.passed_before:  # recorded as passed before the resume, not run again
            verdict = self.passed_before[name]
        else:
            try:
                verdict = distributed.agree(
                    self.accelerator, f"{self.stage}/{name}", lambda: decide(name, settings, compute)
                )
            except BadBatch as bad:  # the gate read an item whose data are bad: say that, not its verdict
                verdict = met_by(f"gate {name}", bad.rejected.indices, bad.rejected.problems)
        self.record.verdict(self.stage, verdict, time.perf_counter() - start)
        if verdict.status == "failed":
            raise GateHalt(self.stage, verdict)
        return verdict


def decide(name: str, settings: Any, compute: Callable[[Any], Verdict]) -> Verdict:
    if not settings.enabled:
        return skipped(name, f"turned off <gates.{name}.enabled=false>")
    verdict = compute(settings)
    if not verdict.passed and settings.waive:
        verdict = verdict.waived(settings.waive)
    return verdict
