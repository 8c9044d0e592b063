"""Verdicts short of a plain pass or halt for `input_independent`: what a comparison that could not decide knew.

No power: on 40 held-out rows the paired lead of a correct regressor over its zeroed copy is +20-60% of the
loss and still only 1-3 standard errors: no number of steps makes a small set decide. When every held-out
example has been scored and `z` standard errors could confirm no lead under `power` of the loss, the gate
looks at the real copy's best held-out point (early stopping: "does it ever learn from the inputs"): a lead
pointing the right way (at least `WEAK_Z` standard errors) whose outputs also match their own targets better
than other examples' targets by `z` (a shuffled label or a zeroed input cannot) passes with a note instead of
halting. A larger validation set decides.

Overfit: a copy that learns from its inputs can overfit a small training set before its lead is clear, then
fall behind the zeroed copy (which learns only the target prior). When its held-out loss turned up after its
best point (worse by `TURNED_UP_Z` standard errors), the same judgement at the best point decides
(hf_bert_speakers: 620 training items, the lead 1.1-2.7 standard errors at the best point, 5-10% of the loss,
the outputs matching their own targets by 5-7; then held-out loss 1.28-1.52 against 1.10).

Out of budget (measure/budget.py): what the last comparison showed, and what the next one would cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Optional

import torch

from ..base.verdict import GateName, Verdict, passed
from .budget import OutOfBudget
from .copy_pair import PairScores
from .paired import HeldOut, Lead, lead

WEAK_Z = 1.0  # the lead points the right way: at least one standard error
TURNED_UP_Z = 2.0  # the real copy's held-out loss rose past its best by this many standard errors (and min_gain)


@dataclass(frozen=True)
class Point:
    """The scores at one comparison: the real copy's held-out loss (mean, and per example), its lead over the
    zeroed copy, and over its own outputs scored against other examples' targets."""

    steps: int
    real: float
    ahead: Lead
    own: Lead
    losses: Optional[torch.Tensor] = None


def best_point(best: Optional[Point], now: PairScores, steps: int) -> Point:
    """The comparison where the real copy's held-out loss was lowest so far."""
    ahead = lead(now.zeroed, now.real)
    real = ahead.base - ahead.mean
    if best is not None and not real < best.real:
        return best
    return Point(steps, real, ahead, lead(now.unpaired, now.real), now.real)


def _learns_at(best: Point, settings: Any) -> bool:
    """At its best point the real copy led (weakly) and its outputs matched their own targets (clearly)."""
    ahead = best.ahead
    return ahead.z >= WEAK_Z and ahead.gain >= settings.min_gain and best.own.clear(settings.z, settings.min_gain)


def judged(
    verdict: Verdict, best: Optional[Point], held: HeldOut, settings: Any, now: Optional[PairScores] = None
) -> Verdict:
    """`verdict`, or a pass with a note when it failed for want of power or after overfitting (module docstring)."""
    if verdict.passed or best is None or verdict.details.get("curve") == "diverged" or not _learns_at(best, settings):
        return verdict
    turned = _turned_up(best, now, settings)
    if turned is not None:
        return _early_stopped(verdict, best, turned, settings)
    least = best.ahead.unconfirmable(settings.z)
    if least <= settings.power or not held.exhausted():
        return verdict
    ahead, own = best.ahead, best.own
    note = (
        f"inconclusive: the held-out set is too small for the paired comparison ({ahead.count} examples, all "
        f"there are: {settings.z:g} standard errors confirm no lead under {least:.0%} of the zeroed copy's loss). "
        f"At step {best.steps}, the real-input copy's best held-out loss ({best.real:.4g}), it led by "
        f"{ahead.shown()}, and its outputs matched their own targets better than other examples' by "
        f"{own.z:.1f} standard errors: it learns from its inputs; how much, this set cannot say. A note, not a "
        "halt; a larger validation set decides <validation.fraction, validation.min_items, "
        f"gates.input_independent.power={settings.power}>. What a halt would have said: {verdict.message}"
    )
    return replace(verdict, passed=True, status="passed", message=note, margin=0.0, details=_details(verdict, best))


def _turned_up(best: Point, now: Optional[PairScores], settings: Any) -> Optional[Lead]:
    """How far the real copy's held-out loss rose past its best point, when it clearly did (else None)."""
    if now is None or best.losses is None:
        return None
    rise = lead(now.real[: len(best.losses)], best.losses)
    return rise if rise.clear(TURNED_UP_Z, settings.min_gain) else None


def _early_stopped(verdict: Verdict, best: Point, rise: Lead, settings: Any) -> Verdict:
    steps = verdict.details.get("steps", "?")
    note = (
        f"judged at the real-input copy's best held-out point (early stopping): at step {best.steps} its held-out "
        f"loss was {best.real:.4g}, a lead of {best.ahead.shown()} over the copy fed zeros, and its outputs matched "
        f"their own targets better than other examples' by {best.own.z:.1f} standard errors: it learns from its "
        f"inputs. Then it overfit: held-out loss {rise.base:.4g} at step {steps}, worse than at its best by "
        f"{rise.z:.1f} standard errors, while the zeroed copy learns only the target prior. A note, not a halt: "
        f"the lead did not reach {settings.z:g} standard errors on {best.ahead.count} held-out examples before it "
        "overfit; a larger validation set, or a lower learning rate, decides <validation.fraction, "
        f"gates.input_independent.lr>. What a halt would have said: {verdict.message}"
    )
    details = {**_details(verdict, best), "inconclusive": False, "overfit_after": best.steps}
    value = round(best.real / best.ahead.base, 4) if best.ahead.base else verdict.value  # at the point judged
    return replace(verdict, passed=True, status="passed", value=value, message=note, margin=0.0, details=details)


def _details(verdict: Verdict, best: Point) -> dict:
    return {**verdict.details, "inconclusive": True, "best_step": best.steps, "best_z": best.ahead.z}


@dataclass
class Progress:
    """Where the comparison stood: the last scores, the steps behind them, and the next comparison's step."""

    last: Optional[PairScores] = None
    steps: int = 0
    target: int = 0


def out_of_budget(out: OutOfBudget, progress: Progress, gate: GateName, tip: str, settings: Any) -> Verdict:
    """The verdict when the time allowance ran out before the comparison decided: a pass that says so."""
    need = max(progress.target - progress.steps, 1)
    known, details = f"before its first comparison (step {progress.target})", {}
    if progress.last is not None and progress.steps > 0:
        ahead = lead(progress.last.zeroed, progress.last.real)
        known = (
            f"at its last comparison, after {progress.steps} steps, the real-input copy led by {ahead.shown()} "
            f"(a pass needs {settings.z:g} standard errors and {settings.min_gain:.0%})"
        )
        details = {"z": ahead.z, "gain": ahead.gain, "real": ahead.base - ahead.mean, "zeroed": ahead.base}
    allowance = out.allowance
    message = (
        f"inconclusive: out of budget: {gate} {out}; {known}. Its next comparison, at step {progress.target}, "
        f"needed at least {need} more steps of each copy (about {2 * need} plain training steps). "
        f"{allowance.fix or 'Raise gates.budget_steps.'} <gates.input_independent.max_steps={settings.max_steps}>"
    )
    value = round(1 - details["gain"], 4) if "gain" in details and math.isfinite(details["gain"]) else math.nan
    shown = f"lead >= {settings.z:g} se and >= {settings.min_gain:.0%}"
    return passed(gate, value, shown, message, tip, margin=0.0, inconclusive="budget", steps=progress.steps, **details)
