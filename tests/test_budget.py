"""`gates.budget_steps` (issue 21): the gates that train copies of the model share a budget counted in plain
training steps of the run's model (timed in setup); one out of its allowance passes as inconclusive, saying
what it would need, and the default budget leaves a small model's verdicts as they were."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from bench.plants.faults import _called_from
from saneloop.checks import GATES, OverfitSettings, overfit_batch
from saneloop.checks.base.gate import Gate
from saneloop.checks.base.settings import GateSettings
from saneloop.checks.measure import budget
from saneloop.engine.budget_ledger import Ledger
from saneloop.errors import EXIT_INTERRUPTED
from saneloop.models.mlp import MLP
from saneloop.stages.train_curve import LossCurve, eval_steps
from tests.conftest import FAST, run_pipeline

GATES_OFF = [f"gates.{gate.name}.enabled=false" for gate in GATES]


def _gate(name: str, share: float) -> Gate:
    return Gate(name=name, stage="baselines", settings=GateSettings, tip="", what="", budget_share=share)


def test_each_gate_gets_its_share_plus_what_the_gates_before_it_left_and_never_less_than_the_floor():
    first, free, second = _gate("first", 0.25), _gate("free", 0.0), _gate("second", 0.5)
    ledger = Ledger(100, 0.0, [first, free, second])
    assert ledger.allowance("first") is None  # no step timed yet: unbounded
    ledger.start(0.01)  # 100 steps of 10 ms: 1 s in all
    assert ledger.allowance("first").seconds == pytest.approx(0.25)
    assert ledger.allowance("free") is None  # a gate without a share is not bounded
    ledger.spent_s = 0.1  # `first` used 0.1 s of its 0.25: the rest carries over
    assert ledger.allowance("second").seconds == pytest.approx(0.75 - 0.1)
    assert ledger.allowance("second").steps() == pytest.approx(65)
    floored = Ledger(100, 5.0, [first, second])
    floored.start(0.01)
    assert floored.total_s == 5.0 and floored.allowance("first").seconds == pytest.approx(1.25)
    unbounded = Ledger(None, 5.0, [first])
    unbounded.start(0.01)
    assert unbounded.allowance("first") is None


def test_a_gate_out_of_its_allowance_passes_as_inconclusive_naming_what_it_used_and_the_fix():
    gate = _gate("slow", 1.0)
    ledger = Ledger(2, 0.0, [gate])
    ledger.start(0.001)

    def forever():
        while True:
            budget.check()

    verdict = ledger.run(gate, GateSettings(), forever)
    assert verdict.passed and verdict.status == "passed" and verdict.details["inconclusive"] == "budget"
    assert verdict.message.startswith("inconclusive: out of budget: slow used ")
    assert "of the 2 plain training steps it was allowed" in verdict.message
    assert "gates.budget_steps=4 (now 2" in verdict.message
    assert ledger.used["slow"]["allowed_steps"] == pytest.approx(2)
    budget.check()  # the allowance ends with the gate: the spent one, had it leaked, would raise here


def test_every_gate_that_trains_copies_has_a_share_and_the_shares_make_the_whole_budget():
    shares = {gate.name: gate.budget_share for gate in GATES if gate.budget_share}
    assert set(shares) == {"pretrained_lr", "input_independent", "label_noise", "overfit", "capacity"}
    assert sum(shares.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="budget_share"):
        _gate("greedy", 1.5)


class _Calls(budget.Allowance):
    """An allowance spent after `limit` checks (a step count, not a clock: the test does not depend on speed)."""

    def __init__(self, limit: int) -> None:
        super().__init__(seconds=1.0, step_s=0.001, fix="Give it more time: gates.budget_steps=600.")
        self.limit, self.calls = limit, 0

    def exceeded(self) -> bool:
        self.calls += 1
        return self.calls > self.limit


def _overfit(lr: float, limit: int, **settings):
    torch.manual_seed(0)
    model, x, y = nn.Linear(4, 3), torch.randn(8, 4), torch.arange(8) % 3
    settings = OverfitSettings(**settings)
    with budget.allowed(_Calls(limit)):
        return overfit_batch(model, nn.functional.cross_entropy, x, y, lambda p: torch.optim.SGD(p, lr=lr), settings)


def test_overfit_cut_short_while_still_falling_is_inconclusive_and_says_how_far_the_goal_is():
    verdict = _overfit(0.05, 30)
    assert verdict.passed and verdict.details["inconclusive"] == "budget" and verdict.details["steps"] == 30
    assert verdict.message.startswith("inconclusive: out of budget: 8 examples not yet memorised after 30 steps")
    assert "more steps away (about" in verdict.message and "gates.budget_steps=600" in verdict.message


def test_overfit_cut_short_on_a_flat_curve_fails_as_a_full_run_would():
    """lr 0: flat at the first look (step 5); the cut at step 7 is the second look a full run would take."""
    cut = _overfit(0.0, 7, min_steps=5, max_steps=40, flat_looks=2)
    full = _overfit(0.0, 10_000, min_steps=5, max_steps=40, flat_looks=2)
    assert not cut.passed and not full.passed
    assert "flattened above the goal" in cut.message and "flattened above the goal" in full.message
    assert "inconclusive" not in cut.details


def test_a_tiny_budget_makes_the_training_gates_say_they_are_inconclusive(tmp_path):
    code, report = run_pipeline(
        tmp_path, *FAST, "stop_after=capacity", "gates.budget_steps=1", "gates.budget_floor_s=0"
    )
    assert code == 0, report
    found = {g["name"]: g for s in report["stages"] for g in s["gates"] if g.get("inconclusive")}
    assert {"input_independent", "capacity"} <= set(found)
    assert all(g["status"] == "passed" and g["inconclusive"] == "budget" for g in found.values())
    assert found["capacity"]["message"].startswith("inconclusive: out of budget: capacity used ")
    assert "gates.budget_steps=2 (now 1" in found["capacity"]["message"]
    cost = report["cost"]
    assert cost["budget_steps"] == 1 and cost["plain_step_s"] > 0 and cost["before_train_steps"] > 0
    markdown = (tmp_path / "report.md").read_text()
    assert "PASS (inconclusive)" in markdown and "Inconclusive (passed without deciding" in markdown


def test_the_default_budget_cuts_no_gate_of_the_default_recipe(default_run):
    """The default budget (300 plain steps, at least 120 s) only acts by cutting a gate short: none is cut,
    so every verdict is the one an unbounded run gives."""
    code, report, _ = default_run
    assert code == 0
    assert not [g["name"] for s in report["stages"] for g in s["gates"] if g.get("inconclusive")]
    cost = report["cost"]
    assert cost["budget_steps"] == 300 and cost["budget_s"] == 120.0 and set(cost["gates"]) >= {"overfit", "capacity"}
    assert all(used["used_steps"] < used["allowed_steps"] for used in cost["gates"].values())


class _SlowMLP(MLP):
    """Trains slowly inside overfit (50 ms a step); at its 5th step there a timer thread sends SIGTERM 0.2 s later,
    as a scheduler would, and records when."""

    sent: list[float] = []

    def forward(self, x):
        if self.training and _called_from("overfit_batch"):
            time.sleep(0.05)
            self.steps = getattr(self, "steps", 0) + 1
            if self.steps == 5:
                threading.Timer(0.2, self._kill).start()
        return super().forward(x)

    @staticmethod
    def _kill() -> None:
        _SlowMLP.sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_while_a_budgeted_gate_trains_ends_the_run_within_seconds(tmp_path):
    _SlowMLP.sent = []
    model = (f"model._target_={__name__}._SlowMLP", "gates.overfit.enabled=true", "gates.overfit.rtol=0.001")
    code, report = run_pipeline(tmp_path, *FAST, *GATES_OFF, *model)
    ended = time.perf_counter()
    assert code == EXIT_INTERRUPTED and report["status"] == "interrupted", report
    assert report["notes"][-1] == "interrupted by SIGTERM" and [s["name"] for s in report["stages"]][-1] == "overfit"
    assert len(_SlowMLP.sent) == 1 and ended - _SlowMLP.sent[0] < 3.0


def _curve(step_s: float, one_eval_s: float, total: int = 1000) -> tuple[LossCurve, list[str]]:
    """A loss curve after its step-0 evaluation took `one_eval_s`, on a model whose plain step takes `step_s`."""
    notes: list[str] = []
    curve = LossCurve.__new__(LossCurve)
    curve.record = SimpleNamespace(report=SimpleNamespace(cost={"plain_step_s": step_s}), note=notes.append)
    curve.steps, curve.total, curve.points = sorted(eval_steps(4, total)), total, [(0, 1.0, 0.1)]
    curve.seconds = one_eval_s
    curve._bound(0)
    return curve, notes


def test_the_loss_curve_takes_fewer_points_where_they_would_cost_more_than_a_tenth_of_training():
    big, notes = _curve(step_s=0.5, one_eval_s=20.0)  # 4 more points: 80 s against 500 s of training steps
    assert big.steps == [0, 1000] and "1 evaluations after step 0, not 4" in notes[0]
    small, notes = _curve(step_s=0.001, one_eval_s=0.05)  # 0.2 s in all: under the floor, as planned
    assert small.steps == [0, 250, 500, 750, 1000] and not notes


def test_the_report_states_what_the_evaluations_cost(default_run):
    _, report, _ = default_run
    cost = report["cost"]
    assert 0 < cost["curve_share_of_train"] and cost["evaluation_s"] > 0
    assert cost["evaluate_checks_share_of_eval"] >= 0
