"""What an overfit run that did not memorise did, in words: the curve's shape and the causes that fit it, and
what a run cut short by its time budget would still have needed (gate `overfit`, checks/overfit.py)."""

from __future__ import annotations

import math
from typing import Any

from . import budget, curves

WRONG, FLATTENED = "some examples wrong", "flattened above the goal"
OUT_OF_BUDGET = "out of budget"

PLATEAU = (
    "a softmax or sigmoid before a loss that expects logits, a loss that broadcasts (an [N, 1] output against "
    "[N] targets), a model that cannot tell these examples apart (a bottleneck, inputs cut off), identical "
    "inputs with different targets"
)


def failure(run: Any, steps: int, settings: Any) -> tuple[str, str]:
    """(what the curve did, the likely causes that fit it)."""
    half = steps - steps // 2
    if run.outcome == WRONG:
        return (
            f"the loss got there, but {run.wrong} examples were still predicted wrong when it stopped",
            "identical inputs with different targets, a model that cannot tell these examples apart",
        )
    if run.outcome == FLATTENED:
        return (
            f"it flattened above the goal: the gap to it shrank by less than {settings.flat:.0%} over the last "
            f"{half} steps",
            PLATEAU,
        )
    if run.outcome == curves.FALLING:
        need = curves.steps_to(run.losses, run.goal)
        more = f"; at its last rate the goal is about {need:.3g} more steps away" if math.isfinite(need) else ""
        more += f", beyond {settings.reach:g} x the ceiling of {max(settings.ceiling, settings.max_steps)} steps"
        if curves.slowing(run.losses):
            return (
                f"it was still falling when it stopped, but ever more slowly{more}: it may be heading "
                "for a floor above the goal",
                f"{PLATEAU}; or {curves.causes(curves.FALLING, run.lr)}",
            )
        return f"it was still falling when it stopped{more}", curves.causes(curves.FALLING, run.lr)
    if run.outcome == curves.OSCILLATING:
        return f"it swung up and down over the last {half} steps", curves.causes(curves.OSCILLATING, run.lr)
    return "it diverged", curves.causes(curves.DIVERGED, run.lr)


def cut_short(shape: str, flat_looks_before: int, settings: Any) -> str:
    """The outcome of a run its budget stopped: flattened or oscillating as a full run would have judged it (the
    cut counts as one more look), else out of budget (still heading for the goal, or too early to tell)."""
    if shape in (FLATTENED, curves.OSCILLATING) and flat_looks_before + 1 >= settings.flat_looks:
        return shape
    return OUT_OF_BUDGET


def still_needed(run: Any, size: int, out: budget.OutOfBudget) -> str:
    """What a run cut short by its budget would still need: the goal's distance at its last rate, in its own
    steps and in plain training steps of the model (at the pace it trained), and the keys that give it time."""
    steps, allowance = len(run.losses) - 1, out.allowance
    need = curves.steps_to(run.losses, run.goal)
    pace = out.spent_s / max(steps, 1) / allowance.step_s  # plain training steps per step of this gate
    far = (
        f"at its last rate the goal is about {need:.3g} more steps away (about {need * pace:.3g} plain training steps)"
        if math.isfinite(need)
        else "its best loss did not fall over the last quarter of the steps: the goal's distance cannot be told"
    )
    used = out.spent_s / allowance.step_s
    return (
        f"inconclusive: out of budget: {size} examples not yet memorised after {steps} steps ({out.spent_s:.3g} s, "
        f"about {used:.0f} of the {allowance.steps():.0f} plain training steps it was allowed): the loss went "
        f"{run.losses[0]:.4g} -> {run.losses[-1]:.4g} against a goal of {run.goal:.4g}, not flattened; {far}. "
        f"{allowance.fix}"
    )
