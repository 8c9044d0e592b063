"""Inconclusive, not failed: a paired comparison on a held-out set too small to have power.

On 40 held-out rows the paired lead of a correct regressor over its zeroed copy is +20-60% of the loss
and still only 1-3 standard errors: no number of steps makes a small set decide. When every held-out
example has been scored and `z` standard errors could confirm no lead under `power` of the loss, the
gate looks at the real copy's best held-out point (early stopping: "does it ever learn from the inputs"):
a lead pointing the right way (at least `WEAK_Z` standard errors) whose outputs also match their own
targets better than other examples' targets by `z` (a shuffled label or a zeroed input cannot) passes with
a note instead of halting. A larger validation set decides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from ..base.verdict import Verdict
from .copy_pair import PairScores
from .paired import HeldOut, Lead, lead

WEAK_Z = 1.0  # the lead points the right way: at least one standard error


@dataclass(frozen=True)
class Point:
    """The scores at one comparison: the real copy's held-out loss, its lead over the zeroed copy, and over
    its own outputs scored against other examples' targets."""

    steps: int
    real: float
    ahead: Lead
    own: Lead


def best_point(best: Optional[Point], now: PairScores, steps: int) -> Point:
    """The comparison where the real copy's held-out loss was lowest so far."""
    ahead = lead(now.zeroed, now.real)
    real = ahead.base - ahead.mean
    if best is not None and not real < best.real:
        return best
    return Point(steps, real, ahead, lead(now.unpaired, now.real))


def judged(verdict: Verdict, best: Optional[Point], held: HeldOut, settings: Any) -> Verdict:
    """`verdict`, or a pass with a note when it failed for want of power (module docstring)."""
    if verdict.passed or best is None or verdict.details.get("curve") == "diverged":
        return verdict
    ahead, own = best.ahead, best.own
    least = ahead.unconfirmable(settings.z)
    if least <= settings.power or ahead.z < WEAK_Z or ahead.gain < settings.min_gain:
        return verdict
    if not own.clear(settings.z, settings.min_gain) or not held.exhausted():
        return verdict
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


def _details(verdict: Verdict, best: Point) -> dict:
    return {**verdict.details, "inconclusive": True, "best_step": best.steps, "best_z": best.ahead.z}
