"""Gate `input_independent`: a model trained on real inputs beats the same model trained on zeros.

If the labels do not follow the inputs (shuffled apart from them, misaligned after a join or a
filter), a model learns nothing from the inputs that a model fed zeros does not. Two copies train
on the same batches (the same Dropout draws), one fed zeros, until the question is answered; they
take turns, one resident at a time (measure/copy_pair.py). At 10, 20, 40, ... steps both are scored
example by example on held-out data (a model can memorise even random labels on its training data,
Zhang et al. 2017): the gate passes as soon as the real-input copy leads by `z` standard errors of
the paired difference and by `min_gain` of the zeroed copy's loss, and its outputs score better
against their own examples' targets than against other examples' (a lead that came from a better
overall rate or scale, not from the inputs, does not count). It fails only when neither copy's
held-out loss still improves (after `min_steps`), or when the generous `max_steps` budget runs out,
and says what the curves did; except that a failure on a held-out set too small to have power, or
after the real copy overfit past a best point where it led, is a pass with a note; and a comparison
cut short by the gate's time allowance is inconclusive (measure/power.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..data.batch import Batch
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed
from .measure import budget, curves
from .measure import power as inconclusive
from .measure.copy_pair import CopyPair, PairScores
from .measure.copy_story import what_happened
from .measure.fitting import LossFn, OptimizerFactory, cycled, default_optimizer
from .measure.paired import HeldOut, Lead, conclude, lead, too_few
from .measure.per_example import ExampleLoss, PerExampleFn
from .measure.per_output import output_leads

TIP = "tip 7: input-independent baseline"
CHANGE_Z = 2.0  # a copy's held-out loss "still improves" by this many standard errors (and min_gain)


@dataclass
class InputIndependentSettings(GateSettings):
    max_steps: int = bounded(2000, low=1)  # the generous budget for each copy; most runs stop far sooner
    first_check: int = bounded(10, low=1)  # steps before the first comparison; the gap doubles after each
    min_steps: int = bounded(200, low=1)  # no failure for "stopped improving" before this many steps
    held_out: int = bounded(256, low=2)  # held-out examples (or windows) the copies are compared on
    # Before failing on a lead that is positive but not clear, score up to this many (doubling): a weak
    # signal (a target that is 90% noise) needs more examples to show, not more steps.
    max_held_out: int = bounded(4096, low=2)
    z: float = bounded(3.0, low=0, above=True)  # the real copy's lead in standard errors of the paired difference
    min_gain: float = bounded(0.01, low=0)  # ... and as a fraction of the zeroed copy's held-out loss
    lr: Optional[float] = bounded(None, low=0, above=True)  # learning rate for both; null = optim.lr
    # No power: every held-out example scored, `z` standard errors confirm no lead under this fraction of the
    # zeroed copy's loss (40 wine rows: 60%). Then a lead that points the right way at the real copy's best
    # held-out point, with outputs that match their own targets by `z`, is inconclusive: a note, not a halt.
    power: float = bounded(0.25, low=0)


def zero_inputs(batch: Batch) -> Batch:
    """The batch with every input replaced by zeros (token ids become token 0: just as input-free)."""
    return batch.map_inputs(lambda _, tensor: torch.zeros_like(tensor))


def learns_from_inputs(
    model: nn.Module,
    train_batches: Iterable[Any],
    held_out_batches: Iterable[Any],
    loss_fn: LossFn,
    optimizer: OptimizerFactory = default_optimizer,
    settings: InputIndependentSettings = InputIndependentSettings(),
    zero: Callable[[Batch], Batch] = zero_inputs,
    device: Optional[torch.device] = None,
    per_example: Optional[PerExampleFn] = None,
    *,
    zero_copy: Optional[Callable[[nn.Module], Any]] = None,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
    per_output: Optional[PerExampleFn] = None,
) -> Verdict:
    """Train two copies of `model` from its current weights on the same batches, one fed the real inputs
    and one fed `zero(batch)`, and compare them example by example on held-out data until one of the
    stopping rules decides (module docstring). `per_example`: the task's vectorised per-example loss,
    used while it agrees with `loss_fn`. `zero_copy`: what keeps the zeroed copy from inputs that zeros
    would not hide, applied to it once (token ids: `zero_embedding_output`, with `zero` leaving the batch).
    `per_output`: the loss per example and output [B, k] (several regression targets): every output must lead.

    Usable on its own: `learns_from_inputs(model, train_loader, test_loader, F.cross_entropy).passed`.
    """
    pair, progress = CopyPair(model, optimizer, settings.lr, outputs, zero_copy), inconclusive.Progress()
    scorer, held = ExampleLoss(loss_fn, per_example, per_output), HeldOut(held_out_batches, device)
    try:
        return _compare(pair, progress, train_batches, held, loss_fn, scorer, settings, zero, device)
    except budget.OutOfBudget as out:
        return inconclusive.out_of_budget(out, progress, GATE, TIP, settings)
    finally:
        pair.close()  # both copies and their optimizer state freed before the next gate


def _compare(
    pair: CopyPair,
    progress: inconclusive.Progress,
    train_batches: Iterable[Any],
    held: HeldOut,
    loss_fn: LossFn,
    scorer: ExampleLoss,
    settings: InputIndependentSettings,
    zero: Callable[[Batch], Batch],
    device: Optional[torch.device],
) -> Verdict:
    """The comparisons at `schedule(settings)` until one decides; `progress` says how far it got."""
    held.grow(settings.held_out)
    batches = cycled(train_batches, settings.max_steps)
    initial = before = progress.last = pair.score(held.batches, scorer, zero)
    deferred, best = False, None
    for target in schedule(settings):
        progress.target = target
        pair.train(batches, target - pair.steps, loss_fn, zero, device)
        now = progress.last = pair.score(held.batches, scorer, zero)
        progress.steps = pair.steps
        best = inconclusive.best_point(best, now, pair.steps)
        verdict = judge(initial, before, now, pair, settings, pair.steps < target)
        if verdict is not None and verdict.near_miss and not deferred and pair.steps < settings.max_steps:
            verdict, deferred = None, True  # a lead that only just crossed the bar: looked at once more
        if verdict is not None:
            verdict = _with_more_examples(verdict, held, (initial, before), pair, scorer, zero, settings, target)
            return inconclusive.judged(verdict, best, held, settings, now)
        before = now
    raise AssertionError("unreachable: the last comparison, at max_steps, always decides")


def _with_more_examples(
    verdict: Verdict,
    held: HeldOut,
    past: tuple[PairScores, PairScores],
    pair: CopyPair,
    scorer: ExampleLoss,
    zero: Callable[[Batch], Batch],
    settings: InputIndependentSettings,
    target: int,
) -> Verdict:
    """A failure on a lead that is positive but not clear is judged again on twice the held-out examples,
    and again, up to `max_held_out`: more examples, not more steps, show a weak signal."""
    while (
        not verdict.passed
        and verdict.details.get("curve") != curves.DIVERGED
        and verdict.details.get("z", 0) > 0
        and held.count < settings.max_held_out
        and held.grow(min(2 * held.count, settings.max_held_out))
    ):
        now = pair.score(held.batches, scorer, zero)
        verdict = judge(*past, now, pair, settings, pair.steps < target) or verdict
    return verdict


def schedule(settings: InputIndependentSettings) -> list[int]:
    """The steps at which the copies are compared: first_check, doubling, and the budget's end."""
    steps, at = [], settings.first_check
    while at < settings.max_steps:
        steps.append(at)
        at *= 2
    return [*steps, settings.max_steps]


def judge(
    initial: PairScores,
    before: PairScores,
    now: PairScores,
    pair: CopyPair,
    settings: InputIndependentSettings,
    out_of_budget: bool = False,
) -> Optional[Verdict]:
    """A verdict once the comparison is answered, or None to train on. `initial`: the scores before any step;
    `before`: at the previous comparison (does each copy still improve?); `out_of_budget`: no steps left."""
    ahead = lead(now.zeroed, now.real)
    curve = curves.shape(pair.losses) if len(pair.losses) >= 2 else None
    n = len(before.real)  # more held-out examples may have been scored since `before` and `initial`
    worse_than_at_init = lead(now.real[:n], initial.real).clear(CHANGE_Z, settings.min_gain)
    start = float(initial.real.double().mean())
    if not math.isfinite(float(now.real.mean())) or (worse_than_at_init and curves.blew_up(pair.losses, start)):
        return fail(ahead, pair, settings, curves.DIVERGED, curve)
    own = lead(now.unpaired, now.real)  # its outputs with their own targets against others' targets
    reordering_told_nothing = own.mean == 0 and own.se == 0  # every held-out target the same
    if (
        ahead.clear(settings.z, settings.min_gain)
        and (own.clear(settings.z, settings.min_gain) or reordering_told_nothing)
        and not worse_than_at_init
    ):
        return _each_output(pass_(ahead, own, pair, settings), before, now, pair, settings, out_of_budget)
    improving = [
        lead(was, cur[:n]).clear(CHANGE_Z, settings.min_gain)
        for was, cur in ((before.real, now.real), (before.zeroed, now.zeroed))
    ]
    at_end = out_of_budget or pair.steps >= settings.max_steps
    if at_end:
        return fail(ahead, pair, settings, curves.FALLING if any(improving) else "stopped", curve)
    if pair.steps >= settings.min_steps and not any(improving):
        return fail(ahead, pair, settings, "stopped", curve)
    return None


def _each_output(verdict: Verdict, before: PairScores, now: PairScores, pair: CopyPair, settings, out_of_budget: bool):
    """With several outputs, a pass needs each to lead on its own (None: train on while a lagging one improves)."""
    found = output_leads(before.columns, now.columns, settings, CHANGE_Z) if before.columns is not None else None
    if found is None or not found.decided(pair.steps, settings, out_of_budget):
        return verdict if found is None else None  # every output leads; or train on while a lagging one improves
    worst, message = found.worst, found.failure(pair.steps, verdict.message, settings)
    return failed(GATE, _ratio(worst), _shown(settings), message, TIP, margin=_margin(worst, pair, settings), z=worst.z)


def _margin(ahead: Lead, pair: CopyPair, settings: InputIndependentSettings) -> float:
    """How far from failing: the lead over `min_gain` (as a fraction of it), or the budget left."""
    gain = ahead.gain / settings.min_gain - 1 if settings.min_gain > 0 else math.inf
    return min(gain, 1 - pair.steps / settings.max_steps)


def _shown(settings: InputIndependentSettings) -> str:
    return f"lead >= {settings.z:g} se and >= {settings.min_gain:.0%}"


def _ratio(ahead: Lead) -> float:
    """Real-input loss / zeroed-input loss on the held-out examples."""
    real = ahead.base - ahead.mean
    return round(real / ahead.base, 4) if ahead.base and math.isfinite(real) else math.inf


def pass_(ahead: Lead, own: Lead, pair: CopyPair, settings: InputIndependentSettings) -> Verdict:
    real = ahead.base - ahead.mean
    return passed(
        GATE,
        _ratio(ahead),
        _shown(settings),
        f"after {pair.steps} steps, held-out loss {real:.4g} on real inputs vs {ahead.base:.4g} on zeroed inputs "
        f"over {ahead.count} examples: the real-input copy leads by {ahead.shown()}; and by {own.gain:+.1%} "
        "over its own outputs scored against other examples' targets",
        TIP,
        margin=min(_margin(ahead, pair, settings), _margin(own, pair, settings)),
        real=real,
        zeroed=ahead.base,
        z=ahead.z,
        gain=ahead.gain,
        steps=pair.steps,
    )


def fail(
    ahead: Lead, pair: CopyPair, settings: InputIndependentSettings, kind: str, curve: Optional[curves.Shape]
) -> Verdict:
    real = ahead.base - ahead.mean
    what, why = what_happened(kind, curve, pair, settings)
    conclusion, why = conclude(ahead, settings, kind == curves.DIVERGED, curves.learning_rate(pair.opt_real), why)
    why = too_few(ahead.count, why)  # before any other cause: no standard error to judge by
    key = (
        f"<gates.input_independent.max_steps={settings.max_steps}, gates.input_independent.z={settings.z}, "
        f"gates.input_independent.min_gain={settings.min_gain}>"
    )
    return failed(
        GATE,
        _ratio(ahead),
        _shown(settings),
        f"after {pair.steps} steps, the model fed real inputs reached held-out loss {real:.4g}, the same model fed "
        f"zeros {ahead.base:.4g}, over {ahead.count} examples: lead {ahead.shown()}{conclusion}. "
        f"{what[0].upper()}{what[1:]}. Likely causes: {why}. {key}",
        TIP,
        margin=_margin(ahead, pair, settings),
        real=real,
        zeroed=ahead.base,
        z=ahead.z,
        gain=ahead.gain,
        steps=pair.steps,
        curve=kind if curve is None else curve.kind,
    )


GATE = Gate(
    name="input_independent",
    stage="baselines",
    budget_share=0.3,
    settings=InputIndependentSettings,
    tip=TIP,
    what="a copy trained on real inputs beats one trained on zeroed inputs on held-out examples, by a paired test",
    checks=(learns_from_inputs,),
)
