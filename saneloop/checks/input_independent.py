"""Gate `input_independent`: a model trained on real inputs beats the same model trained on zeros.

If the labels do not follow the inputs (shuffled apart from them, misaligned after a join or a
filter), a model learns nothing from the inputs that a model fed zeros does not. Two copies train
in lockstep on the same batches (the same Dropout draws), one fed zeros, until the question is
answered. At 10, 20, 40, ... steps both are scored example by example on held-out data (a model
can memorise even random labels on its training data, Zhang et al. 2017): the gate passes as soon
as the real-input copy leads by `z` standard errors of the paired difference and by `min_gain` of
the zeroed copy's loss, and its outputs score better against their own examples' targets than
against other examples' (a lead that came from a better overall rate or scale, not from the
inputs, does not count). It fails only when neither copy's held-out loss still improves (after
`min_steps`), or when the generous `max_steps` budget runs out, and says what the curves did.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..data.batch import Batch
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from . import curves
from .fitting import LossFn, OptimizerFactory, cycled, default_optimizer, paired_draws, step, trainable, with_lr
from .gate import Gate
from .input_independent_verdict import TIP
from .input_independent_verdict import fail as _fail
from .input_independent_verdict import pass_ as _pass
from .paired import HeldOut, lead
from .per_example import ExampleLoss, PerExampleFn
from .settings import GateSettings, bounded
from .verdict import Verdict

CHANGE_Z = 2.0  # a copy's held-out loss "still improves" by this many standard errors (and min_gain)
SMOOTH, BLOWUP_HELD = 5, 10.0  # diverged: the training loss, over 5 steps, 10x the held-out loss at init
ORDERS = 4  # random orders of the held-out targets that the real copy's outputs are also scored against


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


def zero_inputs(batch: Batch) -> Batch:
    """The batch with every input replaced by zeros (token ids become token 0: just as input-free)."""
    return batch.map_inputs(lambda _, tensor: torch.zeros_like(tensor))


@dataclass
class _Scores:
    real: torch.Tensor  # per held-out example
    zeroed: torch.Tensor
    # The real-input copy's outputs scored against the targets of other held-out examples: what its
    # predictions are worth when they have nothing to do with the example (its overall rate, its scale).
    unpaired: torch.Tensor


class _Pair:
    """The two copies, their optimizers and the per-step training losses of the real-input copy.
    `zero_copy`, if given, is applied once to the zeroed copy (e.g. its token embedding's output zeroed)."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        lr: Optional[float],
        outputs: ModelOutputs,
        zero_copy: Optional[Callable[[nn.Module], Any]] = None,
    ) -> None:
        self.real, self.zeroed = copy.deepcopy(model), copy.deepcopy(model)
        if zero_copy is not None:
            zero_copy(self.zeroed)  # for the copy's lifetime: it is never handed back
        self.outputs = outputs
        make = with_lr(optimizer, lr)
        self.opt_real, self.opt_zeroed = make(trainable(self.real)), make(trainable(self.zeroed))
        self.losses: list[float] = []
        self.steps = 0

    def train(self, batches: Iterator[Batch], count: int, loss_fn: LossFn, zero, device) -> None:
        self.real.train()
        self.zeroed.train()
        for batch in itertools.islice(batches, count):
            batch = batch if device is None else batch.to(device)
            with paired_draws() as again:
                self.losses.append(step(self.real, self.opt_real, loss_fn, batch, self.outputs))
                again()
                step(self.zeroed, self.opt_zeroed, loss_fn, zero(batch), self.outputs)
            self.steps += 1

    @torch.no_grad()
    def score(self, held_out: list[Batch], per_example: ExampleLoss, zero) -> _Scores:
        self.real.eval()
        self.zeroed.eval()
        real, unpaired = [], []
        for k, b in enumerate(held_out):
            output = forward(self.real, b, self.outputs)
            real.append(per_example(output, b.targets, len(b)))
            orders = [
                torch.randperm(len(b), generator=torch.Generator().manual_seed(k * 97 + j)) for j in range(ORDERS)
            ]
            scores = [per_example(output, _reordered(b.targets, order), len(b)) for order in orders]
            unpaired.append(torch.stack(scores).mean(0))  # several orders: less noise from which example it met
        zeroed = [per_example(forward(self.zeroed, zero(b), self.outputs), b.targets, len(b)) for b in held_out]
        return _Scores(torch.cat(real), torch.cat(zeroed), torch.cat(unpaired))


def _reordered(targets: Any, order: torch.Tensor) -> Any:
    """The batch's targets in a fixed random order (not a shift: a test set sorted by class would pair
    neighbours of the same class), so each output meets another example's target."""
    if isinstance(targets, torch.Tensor) and targets.dim() >= 1 and len(targets) == len(order):
        return targets[order.to(targets.device)]
    if isinstance(targets, dict):
        return {key: _reordered(value, order) for key, value in targets.items()}
    return targets


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
) -> Verdict:
    """Train two copies of `model` from its current weights on the same batches, one fed the real inputs
    and one fed `zero(batch)`, and compare them example by example on held-out data until one of the
    stopping rules decides (module docstring). `per_example`: the task's vectorised per-example loss,
    used while it agrees with `loss_fn`. `zero_copy`: what keeps the zeroed copy from inputs that zeros
    would not hide, applied to it once (token ids: `zero_embedding_output`, with `zero` leaving the batch).

    Usable on its own: `learns_from_inputs(model, train_loader, test_loader, F.cross_entropy).passed`.
    """
    pair, scorer = _Pair(model, optimizer, settings.lr, outputs, zero_copy), ExampleLoss(loss_fn, per_example)
    held = HeldOut(held_out_batches, device)
    held.grow(settings.held_out)
    batches = cycled(train_batches, settings.max_steps)
    initial = before = pair.score(held.batches, scorer, zero)
    deferred = False
    for target in schedule(settings):
        pair.train(batches, target - pair.steps, loss_fn, zero, device)
        now = pair.score(held.batches, scorer, zero)
        verdict = judge(initial, before, now, pair, settings, pair.steps < target)
        if verdict is not None and verdict.near_miss and not deferred and pair.steps < settings.max_steps:
            verdict, deferred = None, True  # a lead that only just crossed the bar: looked at once more
        if verdict is not None:
            return _with_more_examples(verdict, held, (initial, before), pair, scorer, zero, settings, target)
        before = now
    raise AssertionError("unreachable: the last comparison, at max_steps, always decides")


def _with_more_examples(
    verdict: Verdict,
    held: HeldOut,
    past: tuple[_Scores, _Scores],
    pair: _Pair,
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
    initial: _Scores,
    before: _Scores,
    now: _Scores,
    pair: _Pair,
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
    if not math.isfinite(float(now.real.mean())) or (worse_than_at_init and _blew_up(pair.losses, start)):
        return _fail(ahead, pair, settings, curves.DIVERGED, curve)
    own = lead(now.unpaired, now.real)  # its outputs with their own targets against others' targets
    reordering_told_nothing = own.mean == 0 and own.se == 0  # every held-out target the same
    if (
        ahead.clear(settings.z, settings.min_gain)
        and (own.clear(settings.z, settings.min_gain) or reordering_told_nothing)
        and not worse_than_at_init
    ):
        return _pass(ahead, own, pair, settings)
    improving = [
        lead(was, cur[:n]).clear(CHANGE_Z, settings.min_gain)
        for was, cur in ((before.real, now.real), (before.zeroed, now.zeroed))
    ]
    at_end = out_of_budget or pair.steps >= settings.max_steps
    if at_end:
        return _fail(ahead, pair, settings, curves.FALLING if any(improving) else "stopped", curve)
    if pair.steps >= settings.min_steps and not any(improving):
        return _fail(ahead, pair, settings, "stopped", curve)
    return None


def _blew_up(losses: list[float], start: float) -> bool:
    """The training loss became NaN/Inf, or its running mean over SMOOTH steps rose to BLOWUP_HELD times the
    held-out loss before any step (`start`): a spike, not the batch-to-batch noise of rare classes."""
    if not all(math.isfinite(x) for x in losses):
        return True
    window = [sum(losses[i : i + SMOOTH]) / len(losses[i : i + SMOOTH]) for i in range(0, len(losses), SMOOTH)]
    return bool(window) and max(window) > BLOWUP_HELD * abs(start)


GATE = Gate(
    name="input_independent",
    stage="baselines",
    settings=InputIndependentSettings,
    tip=TIP,
    what="a copy trained on real inputs beats one trained on zeroed inputs on held-out examples, by a paired test",
    checks=(learns_from_inputs,),
)
