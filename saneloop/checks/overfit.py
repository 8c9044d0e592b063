"""Gate `overfit`: a few examples can be memorised, judged against where the loss started and its floor.

"Memorised" means every example predicted right (when the task can say what right is) and the loss
down to `floor + rtol * (loss at init - floor)`: a small fraction of the way it started, whatever
the task's units (raw targets with a variance of 5,900 or standardised ones). While the loss still
falls, training goes on, up to `max_steps`; at 100, 200, 400, ... steps the gap to the goal must have
shrunk by `flat` over the last doubling of steps, or the curve has flattened above the goal.

The budget follows the curve: a curve still falling when `max_steps` runs out, whose own rate puts the
goal within `reach` times the `ceiling` (a hard limit in train steps), trains on toward the ceiling,
looked at every quarter budget. It stops when memorised, when it flattens above the goal, or at the
ceiling: still falling there, it passes with a note unless the goal is far beyond (more than `reach`
times the ceiling at its last rate). A raw-scale regressor at a small learning rate (loss 7178 -> 1512
in 500 steps, the goal 148 steps away) is slow, not broken. A failure says which: flattened above the
goal, diverged, oscillating, still falling with the goal out of reach, or some example still wrong.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin
from .measure import budget, curves
from .measure.fitting import OptimizerFactory, default_optimizer, trainable, with_lr
from .measure.overfit_words import FLATTENED, OUT_OF_BUDGET, WRONG, cut_short, failure, still_needed
from .measure.probing import as_batch

TIP = "tip 8: overfit one batch"

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
RightFn = Callable[[Any, Any], torch.Tensor]


@dataclass
class OverfitSettings(GateSettings):
    batch_size: int = bounded(8, low=1)  # examples in the fixed batch
    # The budget; a batch that memorises stops as soon as it has. The zoo's slowest correct setups (SGD on a
    # logistic regression or a GroupNorm CNN, Adam at 1e-4) took up to ~350 steps; a learning rate 30x too
    # low takes ~800.
    max_steps: int = bounded(500, low=1)
    # The goal: the loss down to floor + rtol * (loss at init - floor), and every example right.
    rtol: float = bounded(0.05, low=0, high=1, above=True)
    # Flattened: over a doubling of steps the gap to the goal shrank by less than this fraction of itself.
    flat: float = bounded(0.1, low=0, high=1)
    # First look for a flattened curve, then at each doubling; it fails after `flat_looks` looks in a row
    # (many models sit on a plateau for tens of steps, then fall: CNNs with SGD, a slow learning rate).
    min_steps: int = bounded(100, low=1)
    flat_looks: int = bounded(2, low=1)
    lr: Optional[float] = bounded(None, low=0, above=True)  # learning rate for this stage; null = optim.lr
    # Past `max_steps`, a curve still falling trains on up to this many steps (never fewer than max_steps):
    # the hard limit a big model's run bounds. Raw-scale regressors at small learning rates need ~750.
    ceiling: int = bounded(2000, low=1)
    # Within reach: at its last rate the curve reaches the goal within `reach` x the ceiling. Beyond: halt.
    reach: float = bounded(2.0, low=1)


@dataclass
class _Run:
    losses: list[float]
    goal: float
    floor: float
    wrong: int  # examples still predicted wrong at the last step (0 when the task cannot say)
    outputs: torch.Tensor
    lr: Optional[float]
    outcome: str  # "memorised", or the curve's shape when it stopped
    cut: Optional[budget.OutOfBudget] = None  # the time budget that stopped it, if one did


def overfit_batch(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any = None,
    optimizer: OptimizerFactory = default_optimizer,
    settings: OverfitSettings = OverfitSettings(),
    floor: float = 0.0,
    predicted_right: Optional[RightFn] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """Train a copy of `model` on one fixed batch (`inputs` and `targets`, or a Batch) until it is memorised
    (module docstring); the copy's final outputs are in `details["outputs"]` (for the overfit plot).

    Dropout is switched off while it runs: noise that regularises must not stop memorising.
    `floor`: the least loss any model can reach on this batch (e.g. a language model cannot tell
    windows apart whose prefixes are identical). `predicted_right(outputs, targets)`: which examples
    the model gets right (the task's; none: the loss alone decides).
    Usable on its own: `overfit_batch(model, F.cross_entropy, x[:8], y[:8]).passed`.
    """
    batch, probe = as_batch(inputs, targets), copy.deepcopy(model)
    opt = with_lr(optimizer, settings.lr)(trainable(probe))
    probe.train()
    for module in probe.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.eval()
    run = _train(probe, opt, loss_fn, batch, settings, floor, predicted_right, outputs)
    return judge(run, len(batch), settings)


def _train(
    probe, opt, loss_fn, batch, settings: OverfitSettings, floor: float, right: Optional[RightFn], read: ModelOutputs
) -> _Run:
    losses: list[float] = []
    goal, wrong, outcome, looks, flat, cut = math.inf, 0, "", _looks(settings), 0, None
    for at in range(max(settings.ceiling, settings.max_steps) + 1):
        opt.zero_grad(set_to_none=True)
        output = forward(probe, batch, read)
        loss = loss_fn(output, batch.targets)
        losses.append(loss.item())
        if at == 0:
            goal = floor + settings.rtol * max(losses[0] - floor, 0.0)
        wrong = 0 if right is None else int((~right(output.detach(), batch.targets)).sum())
        outcome = _stop(losses, goal, wrong, at in looks, settings)
        if outcome in (FLATTENED, curves.OSCILLATING):  # one look may be a plateau before the fall
            flat += 1
            outcome = outcome if flat >= settings.flat_looks else ""
        elif at in looks:
            flat = 0
        if not outcome and at >= settings.max_steps:
            outcome = _past_budget(losses, goal, floor, settings)
        if outcome:
            break
        try:
            budget.check()  # out of the gate's time (gates.budget_steps): judged on the curve so far
        except budget.OutOfBudget as out:
            shape = _falling_or_flat(losses, goal, settings) if at >= settings.min_steps else curves.FALLING
            outcome, cut = cut_short(shape, flat, settings), out
            break
        loss.backward()
        opt.step()
    with torch.no_grad():
        outputs = forward(probe, batch, read).detach().float().cpu()  # in the mode it trained in (Dropout off)
    return _Run(losses, goal, floor, wrong, outputs, curves.learning_rate(opt), outcome, cut)


def _past_budget(losses: list[float], goal: float, floor: float, settings: OverfitSettings) -> str:
    """At the budget and every quarter budget past it: "" to train on (still falling, the goal within reach
    of the ceiling), else why it stopped. At the ceiling: still falling, or some example still wrong."""
    at, ceiling = len(losses) - 1, max(settings.ceiling, settings.max_steps)
    if at < ceiling and (at - settings.max_steps) % max(settings.max_steps // 4, 1):
        return ""
    if losses[-1] <= goal:  # low enough, some example still wrong: on while the loss still falls
        best = curves.running_min(losses)
        falling = best[at // 2] - best[at] >= settings.flat * (best[at // 2] - floor)
        return "" if falling and at < ceiling else WRONG
    shape = _falling_or_flat(losses, goal, settings, stop=True)
    if shape:
        return shape
    return "" if within_reach(losses, goal, settings) and at < ceiling else curves.FALLING


def within_reach(losses: list[float], goal: float, settings: OverfitSettings) -> bool:
    """At its last rate, the curve reaches the goal within `reach` x the ceiling."""
    steps = len(losses) - 1 + curves.steps_to(losses, goal)
    return steps <= settings.reach * max(settings.ceiling, settings.max_steps)


def _stop(losses: list[float], goal: float, wrong: int, look: bool, settings: OverfitSettings) -> str:
    """Why to stop now ("" to go on): memorised, diverged, or (at a `look`) flattened or oscillating above the goal."""
    last = losses[-1]
    if not math.isfinite(last) or (last > curves.BLOWUP * max(losses[0], 1e-12) and last > losses[0]):
        return curves.DIVERGED
    if last <= goal:
        return "memorised" if wrong == 0 else ""
    return _falling_or_flat(losses, goal, settings, stop=True) if look else ""


def _looks(settings: OverfitSettings) -> set[int]:
    looks, at = set(), settings.min_steps
    while at <= settings.max_steps:
        looks.add(at)
        at *= 2
    return looks


def _falling_or_flat(losses: list[float], goal: float, settings: OverfitSettings, stop: bool = False) -> str:
    """Is the best loss so far still falling? Over the last doubling of steps it must have closed `flat` of
    its gap to the goal, or kept falling at a steady rate (the last quarter's fall at least half the one
    before: a slow, straight fall, not a curve bending flat). If not: flattened, or oscillating if it swings.
    `stop`: "" for a curve that still falls (go on)."""
    at = len(losses) - 1
    best = curves.running_min(losses)
    half, three_quarters, now = best[at // 2], best[(3 * at) // 4], best[at]
    closed = half - now >= settings.flat * (half - goal)
    steady = now < three_quarters and three_quarters - now >= 0.5 * (half - three_quarters)
    if closed or steady:
        return "" if stop else curves.FALLING
    window = losses[at // 2 :]
    swings = sum(1 for a, b, c in zip(window, window[1:], window[2:]) if (b - a) * (c - b) < 0)
    return curves.OSCILLATING if swings > len(window) / 4 and max(window) > 1.5 * min(window) else FLATTENED


def judge(run: _Run, size: int, settings: OverfitSettings) -> Verdict:
    """The verdict on one overfit run: passed when memorised, else what the curve did and why that may be."""
    steps, final = len(run.losses) - 1, run.losses[-1]
    floor_note = (
        f" (a floor of {run.floor:.4g}: inputs the model cannot tell apart have different targets)" if run.floor else ""
    )
    shown = f"<= {run.goal:.4g}, every example right"
    details = {"losses": run.losses, "steps": steps, "floor": run.floor, "goal": run.goal, "outputs": run.outputs}
    start = f"{run.losses[0]:.4g} -> {final:.4g}"
    if run.outcome == "memorised":
        return passed(
            GATE,
            round(final, 6),
            shown,
            f"{size} examples memorised in {steps} steps: loss {start}, below the goal {run.goal:.4g} "
            f"({settings.rtol:.0%} of the way from the floor to the start{floor_note}), every example right",
            TIP,
            margin=1 - steps / max(settings.ceiling, settings.max_steps),
            **details,
        )
    key = (
        f"<gates.overfit.max_steps={settings.max_steps}, gates.overfit.ceiling={settings.ceiling}, "
        f"gates.overfit.rtol={settings.rtol}, gates.overfit.batch_size={settings.batch_size}>"
    )
    if run.outcome == curves.FALLING and within_reach(run.losses, run.goal, settings):
        return _ceiling_note(run, size, settings, key, details)
    if run.outcome == OUT_OF_BUDGET and run.cut is not None:
        return passed(
            GATE, round(final, 6), shown, still_needed(run, size, run.cut), TIP, inconclusive="budget", **details
        )
    what, why = failure(run, steps, settings)
    return failed(
        GATE,
        round(final, 6) if math.isfinite(final) else final,
        shown,
        f"{size} examples were not memorised in {steps} steps: the loss went {start} against a goal of "
        f"{run.goal:.4g}{floor_note}; {what}. Likely causes: {why}. {key}",
        TIP,
        margin=relative_margin(final, run.goal) if run.goal > 0 else None,
        curve=run.outcome,
        **details,
    )


def _ceiling_note(run: _Run, size: int, settings: OverfitSettings, key: str, details: dict) -> Verdict:
    """The ceiling reached while still falling, the goal within reach at the last rate: slow, not broken."""
    steps, need = len(run.losses) - 1, curves.steps_to(run.losses, run.goal)
    return passed(
        GATE,
        round(run.losses[-1], 6),
        f"<= {run.goal:.4g}, every example right",
        f"{size} examples not yet memorised at the ceiling of {steps} steps, but still falling: the loss went "
        f"{run.losses[0]:.4g} -> {run.losses[-1]:.4g} against a goal of {run.goal:.4g}; at its last rate the goal "
        f"is about {need:.3g} more steps away, within {settings.reach:g} x the ceiling (a note, not a halt: "
        f"a slow learner, e.g. a learning rate low for these targets' scale). {key}",
        TIP,
        margin=0.0,
        curve=curves.FALLING,
        **details,
    )


GATE = Gate(
    name="overfit",
    stage="overfit",
    budget_share=0.2,
    settings=OverfitSettings,
    tip=TIP,
    what="a copy memorises a fixed batch: every example right, the loss near its floor",
    checks=(overfit_batch,),
    figures=("overfit",),
)
