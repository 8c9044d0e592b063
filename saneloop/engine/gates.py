"""Running one gate: honour `enabled` and `waive`, agree on the verdict across processes, record it,
halt on failure. The stages call `gates(GATE, compute)` with the gate's declaration; what a gate
measures is theirs to say.

What a failure does (`gates.on_fail`):
- `halt` (the default): the run halts at its first failure. When that failure is a data gate's (setup's
  checks of the data alone), the cheap model probes (`PROBES`: they read the model, not the data's
  quality) still run, to the end of their stage, as findings: listed beside the halt, never halting.
  A user meets the model's bug with the data's instead of one run later.
- `continue`: every failure is recorded and the run goes on; it halts at the first failure once the
  last stage (or `stop_after`'s) ends, listing them all. A gate whose inputs an earlier failure made
  meaningless (`SPOILS`) is skipped, naming that failure; so is one that raises after a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Optional

from ..checks.base.gate import STAGES, Gate
from ..checks.base.registry import GATES, explainer
from ..checks.base.verdict import Verdict, skipped
from ..errors import GateHalt
from ..record.run_record import RunRecord
from . import distributed
from .budget_ledger import Ledger

# Model probes that do not depend on the data's quality: cheap, and still run after a data gate halts.
PROBES = ("modes", "params_learn", "batch_independence", "causality")
PROBES_END = "sanity"  # the stage the probes run in: a pending halt is raised when it ends
MODEL_SETUP_GATES = ("last_batch", "determinism")  # setup's gates that run the model (the rest read data only)
EVERY_MODEL_GATE = ("*",)
_NON_FINITE = (EVERY_MODEL_GATE, "a non-finite input makes the outputs computed from it meaningless")
# A failed gate -> (the later gates it leaves without meaning, why). EVERY_MODEL_GATE: every gate that
# runs the model (setup's data gates still run: they read the data, not a model's output on it).
SPOILS: dict[str, tuple[tuple[str, ...], str]] = {
    "targets": (EVERY_MODEL_GATE, "a target the task cannot read makes every loss on it meaningless"),
    "inputs_finite": _NON_FINITE,
    "full_pass": _NON_FINITE,  # setup's read of a bad item outside the sample
    "input_independent": (("too_good",), "too_good reads the held-out losses input_independent could not decide"),
    "full_eval": (("eval_repeatable", "beats_baselines"), "the metrics did not read every example exactly once"),
}

# A failure in this stage halts whatever `on_fail` says: the training loop's guards stop the steps they judge
# (full_pass has found a batch it is about to step on).
ALWAYS_HALTS_IN = "train"


def runs_model(gate: Gate) -> bool:
    return gate.stage != "setup" or gate.name in MODEL_SETUP_GATES


class GateRunner:
    def __init__(
        self,
        settings: Any,
        accelerator: Any,
        record: RunRecord,
        passed_before: Optional[dict[str, Verdict]] = None,
        stop_after: Optional[str] = None,
    ) -> None:
        self.settings, self.accelerator, self.record, self.stop_after = settings, accelerator, record, stop_after
        self.stage = ""
        self.passed_before = passed_before or {}  # a resumed run's gates, passed before it stopped
        self.go_on = getattr(settings, "on_fail", "halt") == "continue"
        self.failures: list[tuple[str, Verdict]] = []  # (stage, verdict), in the order the run met them
        self.pending = False  # halt mode: a data gate failed; only the model probes run until PROBES_END
        # The training gates' time before `train` (gates.budget_steps), once setup has timed a plain step
        self.ledger = Ledger(getattr(settings, "budget_steps", None), getattr(settings, "budget_floor_s", 0.0), GATES)

    def __call__(self, gate: Gate, compute: Callable[[Any], Verdict]) -> Verdict:
        if self.pending and gate.name not in PROBES:
            return skipped(gate, f"not run: the run halts at {self._first()}")  # not recorded: halt-on-first
        start = time.perf_counter()
        verdict = self._spoiled(gate) or self._decided(gate, compute)
        self.record.verdict(self.stage, verdict, time.perf_counter() - start, finding=self.pending)
        if gate.name in self.ledger.used:
            self.record.report.cost.update(self.ledger.summary())
        if verdict.status == "failed":
            self._failed(gate, verdict)
        return verdict

    def _decided(self, gate: Gate, compute: Callable[[Any], Verdict]) -> Verdict:
        if gate.name in self.passed_before:  # recorded as passed before the resume, not run again
            return self.passed_before[gate.name]
        settings = getattr(self.settings, gate.name)
        try:
            return distributed.agree(
                self.accelerator,
                f"{self.stage}/{gate.name}",
                lambda: self.ledger.run(gate, settings, lambda: decide(gate, settings, compute)),
            )
        except Exception as error:  # e.g. the gate read an item whose data are bad: say that, not its verdict
            owner = explainer(error)
            if owner is not None and owner.explain is not None:
                return owner.explain(error, f"gate {gate.name}")
            if not self.failures:  # nothing failed before it: a crash is a crash
                raise
            return skipped(gate, f"could not run after {self._first()} failed: {type(error).__name__}: {error}")

    def _spoiled(self, gate: Gate) -> Optional[Verdict]:
        """Skipped, naming the earlier failure that leaves this gate's measurement without meaning."""
        for stage, failed in self.failures:
            spoils, why = SPOILS.get(failed.gate, ((), ""))
            if gate.name in spoils or (spoils == EVERY_MODEL_GATE and runs_model(gate)):
                return skipped(gate, f"not run: {stage}/{failed.gate} failed, and {why}")
        return None

    def _failed(self, gate: Gate, verdict: Verdict) -> None:
        self.failures.append((self.stage, verdict))
        if (self.go_on or self.pending) and gate.stage != ALWAYS_HALTS_IN:
            return
        data_only = not runs_model(gate) and SPOILS.get(gate.name, ((),))[0] != EVERY_MODEL_GATE
        probes_reached = self.stop_after is None or STAGES.index(self.stop_after) >= STAGES.index(PROBES_END)
        if data_only and probes_reached:
            self.pending = True  # the model probes still run; the halt is raised when their stage ends
            return
        raise self.halt()

    def halt(self) -> GateHalt:
        """The halt at the run's first failure (the report lists every one)."""
        stage, verdict = self.failures[0]
        return GateHalt(stage, verdict)

    def _first(self) -> str:
        stage, verdict = self.failures[0]
        return f"{stage}/{verdict.gate}"

    def end_stage(self, name: str, last: bool) -> None:
        """After stage `name` (`last`: the run's last, or `stop_after`'s): raise the halt a failure left
        pending (halt mode: once the probes ran; continue mode: at the end, or once a failure has spoiled
        every gate that runs the model: every later stage's)."""
        spoiled_all = any(SPOILS.get(v.gate, ((),))[0] == EVERY_MODEL_GATE for _, v in self.failures)
        if self.failures and (last or spoiled_all or (self.pending and name == PROBES_END)):
            raise self.halt()

    def cut_short(self, error: BaseException, where: str) -> None:
        """A stage raised outside any gate after a failure was recorded (and kept the run going): the
        failure most likely caused it; the run halts at its failures, with the error as a note."""
        if self.failures and not isinstance(error, GateHalt):
            self.record.note(f"{where} could not go on after {self._first()} failed: {type(error).__name__}: {error}")
            raise self.halt() from error

    def explained(self, error: BaseException, where: str) -> None:
        """An error raised outside any gate (e.g. setup's output-shape probe read a bad item): when a gate's
        verdict stands for it, run that gate on it (recorded; halts unless waived). Otherwise nothing."""
        owner = explainer(error)
        if owner is not None and owner.explain is not None:
            explain = owner.explain
            self.pending = False  # the stage cannot go on: whatever the mode, the run halts here
            if self(owner, lambda s: explain(error, where)).status == "failed":
                raise self.halt()


def decide(gate: Gate, settings: Any, compute: Callable[[Any], Verdict]) -> Verdict:
    if not settings.enabled:
        return skipped(gate, f"turned off <gates.{gate.name}.enabled=false>")
    verdict = compute(settings)
    if not verdict.passed and settings.waive:
        verdict = verdict.waived(settings.waive)
    return verdict
