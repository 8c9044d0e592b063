"""The ledger of the time before `train`: what the gates that train copies of the model may spend, in plain
training steps of the run's model (`gates.budget_steps`).

Setup times one plain step (`start`); from then on each gate declared with a `budget_share` runs under an
allowance (measure/budget.py): its share of the total, plus whatever the budgeted gates met before it left
unused (a gate that did not run, or decided early, leaves its time to the next). The total is
`budget_steps` x the plain step, but never under `gates.budget_floor_s`: a small model's gates cost seconds,
and cutting them would only move its verdicts. A gate out of its allowance that does not say itself what it
would need becomes an inconclusive pass here, naming the budget and the fix: never a silent pass or fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

from ..checks.base.gate import Gate
from ..checks.base.verdict import Verdict, passed
from ..checks.measure import budget

INCONCLUSIVE = "inconclusive"  # the details key of a verdict that could not decide; its value says why


class Ledger:
    """Allowances for the training gates, in the order the run meets them, from one total."""

    def __init__(self, budget_steps: Optional[int], floor_s: float, gates: Sequence[Gate]) -> None:
        self.budget_steps, self.floor_s = budget_steps, floor_s
        self.shares = {gate.name: gate.budget_share for gate in gates if gate.budget_share > 0}
        self.step_s: Optional[float] = None  # one plain training step of the run's model, once setup timed it
        self.spent_s = 0.0  # by the budgeted gates so far
        self.used: dict[str, dict[str, float]] = {}  # gate -> its allowance and what it spent, in plain steps

    def start(self, step_s: float) -> None:
        self.step_s = step_s

    @property
    def total_s(self) -> Optional[float]:
        """The seconds all budgeted gates may take (None: unbounded, or the step not timed yet)."""
        if self.budget_steps is None or self.step_s is None:
            return None
        return max(self.budget_steps * self.step_s, self.floor_s)

    def allowance(self, name: str) -> Optional[budget.Allowance]:
        """The gate's share of the total plus what the budgeted gates before it left (None: unbounded)."""
        total = self.total_s
        if name not in self.shares or total is None or self.step_s is None:
            return None
        names = list(self.shares)
        granted = sum(self.shares[n] for n in names[: names.index(name) + 1]) * total
        return budget.Allowance(max(granted - self.spent_s, 0.0), self.step_s)

    def run(self, gate: Gate, settings: Any, decide: Callable[[], Verdict]) -> Verdict:
        """`decide` under the gate's allowance; an `OutOfBudget` it lets out becomes an inconclusive verdict."""
        allowance = self.allowance(gate.name)
        if allowance is None:
            return decide()
        allowance.fix = self.fix(gate, settings)
        try:
            with budget.allowed(allowance):
                return decide()
        except budget.OutOfBudget as out:
            return self.inconclusive(gate, out, settings)
        finally:
            self.spent_s += allowance.spent_s()
            self.used[gate.name] = {"allowed_steps": allowance.steps(), "used_steps": allowance.spent_steps()}

    def inconclusive(self, gate: Gate, out: budget.OutOfBudget, settings: Any) -> Verdict:
        """A pass that says it decided nothing: how much of its allowance it used, and the fix."""
        allowed, used = out.allowance.steps(), out.spent_s / out.allowance.step_s
        return passed(
            gate,
            None,
            None,
            f"{INCONCLUSIVE}: out of budget: {gate.name} {out}, before it could decide. {out.allowance.fix}",
            gate.tip,
            **{INCONCLUSIVE: "budget"},
            used_steps=used,
            allowed_steps=allowed,
        )

    def fix(self, gate: Gate, settings: Any) -> str:
        """The keys that give a gate more time: the whole budget, or fewer steps of its own."""
        more = f"gates.budget_steps={2 * self.budget_steps}" if self.budget_steps else "gates.budget_steps=null"
        own = f" or fewer steps of its own <gates.{gate.name}.max_steps>" if hasattr(settings, "max_steps") else ""
        share = self.shares.get(gate.name, 0.0)
        return f"Give it more time: {more} (now {self.budget_steps}; its share {share:.0%}){own}."

    def summary(self) -> dict[str, Any]:
        """What report.json's `cost` says of the budget."""
        total = self.total_s
        return {
            "plain_step_s": None if self.step_s is None else round(self.step_s, 6),
            "budget_steps": self.budget_steps,
            "budget_floor_s": self.floor_s,
            "budget_s": None if total is None else round(total, 3),
            "gates": {name: {k: round(v, 1) for k, v in used.items()} for name, used in self.used.items()},
        }

    def describe(self) -> str:
        """One console line: the step, and what the training gates may spend."""
        step = f"one plain training step of the model takes {1000 * (self.step_s or 0.0):.1f} ms"
        if self.total_s is None:
            return f"{step}; the training gates are not bounded <gates.budget_steps=null>"
        floor = " (the floor)" if self.total_s > (self.budget_steps or 0) * (self.step_s or 0.0) else ""
        return (
            f"{step}; the training gates may take {self.total_s:.3g} s{floor}, about "
            f"{self.total_s / (self.step_s or 1.0):.0f} such steps <gates.budget_steps={self.budget_steps}, "
            f"gates.budget_floor_s={self.floor_s:g}>"
        )
