"""Gate `loss_scale`: fp16's gradient scaler, its skipped steps counted and left out of the steps taken, a
collapsing loss scale halted in `train`. The guard's logic runs here on a fake scaler and optimizer; the
planted bug end to end needs CUDA (Accelerate makes a scaler for fp16 there only)."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest
import torch

from saneloop.checks.loss_scale import LossScaleSettings, ScaleWatch, loss_scale_held
from saneloop.stages.train_guards import ScaleGuard
from tests.conftest import REPO


class FakeScaler:
    """GradScaler's side the guard reads: the scale, halved on a skipped step."""

    def __init__(self, scale: float = 65536.0) -> None:
        self.scale = scale

    def get_scale(self) -> float:
        return self.scale


def _ctx(scaler, settings=None):
    report = SimpleNamespace(train={})
    notes: list[str] = []
    return SimpleNamespace(
        accelerator=SimpleNamespace(scaler=scaler, sync_gradients=True, mixed_precision="fp16"),
        settings=SimpleNamespace(gates=SimpleNamespace(loss_scale=settings or LossScaleSettings())),
        record=SimpleNamespace(report=report, note=notes.append, notes=notes),
    )


def _train(guard: ScaleGuard, scaler: FakeScaler, optimizer, skips: list[bool]) -> list:
    """Drive the guard as the loop does: a step, the scaler's decision, the step's end."""
    guard.on_fit_start(None, 0)
    findings = []
    for step, skip in enumerate(skips, start=1):
        optimizer.step_was_skipped = skip
        if skip:
            scaler.scale /= 2
        if step >= guard.due:
            findings += guard.on_step_end(None, step, None)
    return findings


def test_a_scale_that_halves_every_step_halts_in_train_saying_what_to_do():
    scaler, optimizer = FakeScaler(), SimpleNamespace(step_was_skipped=False)
    guard = ScaleGuard(_ctx(scaler), optimizer)
    findings = _train(guard, scaler, optimizer, [True] * 100)
    assert len(findings) == 1
    verdict = findings[0].verdict(LossScaleSettings())
    assert not verdict.passed and verdict.gate == "loss_scale"
    assert "skipped 20 of 20 steps" in verdict.message  # halted at once, not at the end of the fit
    assert "mixed_precision=bf16" in verdict.message and "optim.lr" in verdict.message
    assert "max_skipped_in_row=20" in verdict.message


def test_a_scale_below_the_floor_halts_before_the_run_of_skips_does():
    watch = ScaleWatch()
    watch.skip([1], 2.0**-15)
    assert not watch.verdict(LossScaleSettings()).passed and "collapsed" in watch.verdict(LossScaleSettings()).message
    assert loss_scale_held(1024.0, 3, 5, 100).passed  # a user's own loop: the scaler's numbers, judged


def test_occasional_skips_pass_are_counted_and_are_no_steps_taken():
    scaler, optimizer = FakeScaler(), SimpleNamespace(step_was_skipped=False)
    ctx = _ctx(scaler)
    guard = ScaleGuard(ctx, optimizer)
    skips = [step % 10 == 0 for step in range(1, 101)]  # steps 10, 20, ..., 100 skipped
    assert _train(guard, scaler, optimizer, skips) == []
    losses = torch.arange(1.0, 101.0)
    end = guard.on_fit_end(None, 100, losses)
    verdict = end[0].verdict(LossScaleSettings())
    assert verdict.passed and verdict.details["skipped_steps"] == 10
    assert ctx.record.report.train == {"skipped_steps": 10, "loss_scale": 65536.0 / 2**10}
    assert "skipped 10 of 100 steps" in ctx.record.notes[-1]
    taken = guard.taken(losses)
    assert len(taken) == 90 and 10.0 not in taken.tolist() and 11.0 in taken.tolist()


def test_a_skipped_step_under_accumulation_leaves_out_its_micro_steps():
    scaler, optimizer = FakeScaler(), SimpleNamespace(step_was_skipped=False)
    ctx = _ctx(scaler)
    guard = ScaleGuard(ctx, optimizer)
    guard.on_fit_start(None, 0)
    for step in range(1, 7):  # optimizer steps at 2, 4, 6; the one at 4 skipped
        ctx.accelerator.sync_gradients = step % 2 == 0
        optimizer.step_was_skipped = step == 4
        guard.on_step_end(None, step, None)
    assert guard.watch.skipped == [3, 4]
    assert guard.taken(torch.arange(1.0, 7.0)).tolist() == [1.0, 2.0, 5.0, 6.0]


def test_without_a_scaler_the_gate_is_skipped_and_costs_no_step():
    guard = ScaleGuard(_ctx(None), SimpleNamespace())
    guard.on_fit_start(None, 0)
    assert guard.due > 10**9
    verdict = guard.on_fit_end(None, 5, torch.ones(5))[0].verdict(LossScaleSettings())
    assert verdict.status == "skipped" and "no gradient scaler" in verdict.message
    assert guard.taken(torch.ones(5)).shape == (5,)


def test_the_skipped_steps_survive_a_resume():
    scaler, optimizer = FakeScaler(), SimpleNamespace(step_was_skipped=False)
    guard = ScaleGuard(_ctx(scaler), optimizer)
    _train(guard, scaler, optimizer, [False, True, True])
    again = ScaleGuard(_ctx(scaler), optimizer)
    again.load_state_dict(guard.state_dict())
    assert again.watch.skipped == [2, 3] and again.watch.in_row == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16's gradient scaler needs CUDA")
def test_planted_fp16_overflow_halts_at_loss_scale(tmp_path):
    from bench.suite import bugs

    spec = importlib.util.spec_from_file_location("bugbench", REPO / "scripts" / "bugbench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    case = next(c for c in bugs() if c.name == "cls_fp16_scale_collapse")
    row = bench.run_case(case, str(tmp_path), stop_after="train")
    assert (row["status"], row["halted_gate"]) == ("halted", "loss_scale"), row
