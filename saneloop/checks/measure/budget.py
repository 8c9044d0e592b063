"""A training gate's share of the time before `train`, counted in the run's own training steps.

The gates that train (input_independent, overfit, capacity, ...) may cost a few hundred steps of the model
each; on a model whose step takes a second that is an hour before the first training step. The run gives
each such gate an allowance (`gates.budget_steps`, shared out by the runner: engine/gates.py), measured in
plain training steps of the run's model and converted to seconds once that step has been timed.

The loops that train ask `check()` before each step (measure/fitting.step does). Past the allowance it
raises `OutOfBudget`: a gate that knows what it would still need (an extrapolated curve, a lead not yet
clear) catches it and says so in its verdict; otherwise the runner records the gate as inconclusive,
naming the budget. Outside an allowance (a check used on its own) nothing is ever out of budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Allowance:
    """What one gate may spend: `seconds` of wall time, where one plain training step takes `step_s`."""

    seconds: float
    step_s: float
    start: float = field(default_factory=time.perf_counter)
    fix: str = ""  # the keys that give the gate more time, for its message (the ledger's words)

    def spent_s(self) -> float:
        return time.perf_counter() - self.start

    def spent_steps(self) -> float:
        return self.spent_s() / self.step_s if self.step_s > 0 else math.inf

    def steps(self) -> float:
        """The allowance in plain training steps."""
        return self.seconds / self.step_s if self.step_s > 0 else math.inf

    def exceeded(self) -> bool:
        return self.spent_s() > self.seconds


class OutOfBudget(Exception):
    """A training gate used up its allowance before it could decide."""

    def __init__(self, allowance: Allowance) -> None:
        self.allowance = allowance
        self.spent_s = allowance.spent_s()
        used = self.spent_s / allowance.step_s if allowance.step_s > 0 else math.inf
        super().__init__(  # read after the gate's name: "capacity used 1.2 s, about ..."
            f"used {self.spent_s:.3g} s, about {used:.0f} of the {allowance.steps():.0f} plain training steps "
            "it was allowed"
        )


_current: ContextVar[Optional[Allowance]] = ContextVar("saneloop_allowance", default=None)


@contextmanager
def allowed(allowance: Optional[Allowance]) -> Iterator[Optional[Allowance]]:
    """Run a block under `allowance` (None: unbounded)."""
    token = _current.set(allowance)
    try:
        yield allowance
    finally:
        _current.reset(token)


def check() -> None:
    """Raise `OutOfBudget` when the running gate has spent its allowance (a loop calls this before each step)."""
    allowance = _current.get()
    if allowance is not None and allowance.exceeded():
        raise OutOfBudget(allowance)
