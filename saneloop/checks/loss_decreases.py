"""Gate `loss_decreases`: the training loss ends clearly below where it started.

"Clearly" is measured, not a fixed ratio. The train stage scores `examples` fixed training examples
before the first step and after the last, one by one (training mode, the same Dropout draws): the
loss must fall by `z` standard errors of the paired difference and by `min_drop` of where it
started. A target that is 90% noise cannot halve its loss, and needs not to; a flat curve (a
learning rate of zero, gradients that never arrive) does not fall at all. Without those scores
(`loss_decreased` on step losses alone) the first and last `window` of the steps are compared, by
the standard errors of their means. A failure says what the curve of step losses did: flat,
diverged, oscillating.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..data.batch import Batch
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import NEAR_MISS, Verdict, failed, passed
from .measure import curves
from .measure.fitting import LossFn, same_draws
from .measure.paired import lead
from .measure.per_example import ExampleLoss, PerExampleFn

TIP = "tip 9: the training loss goes down"


@dataclass
class LossDecreasesSettings(GateSettings):
    window: float = bounded(0.1, low=0, high=1, above=True)  # fraction of the steps averaged at the start and end
    examples: int = bounded(512, low=2)  # fixed training examples scored before and after training ...
    # ... doubled while the fall is positive but not yet clear, up to this many (a weak signal needs more)
    max_examples: int = bounded(4096, low=2)
    z: float = bounded(3.0, low=0)  # the end below the start by this many standard errors ...
    min_drop: float = bounded(0.02, low=0, high=1)  # ... and by this fraction of the start
    # Optional: end / start must also be at most this (for a recipe that knows its curve); null: not asked.
    max_ratio: Optional[float] = bounded(None, low=0, above=True)


def _mean_se(x: torch.Tensor) -> tuple[float, float]:
    x = x.double()
    return float(x.mean()), (float(x.std() / math.sqrt(len(x))) if len(x) > 1 else 0.0)


def score_examples(
    model: nn.Module,
    batches: list[Batch],
    loss_fn: LossFn,
    per_example: Optional[PerExampleFn] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> torch.Tensor:
    """The training loss of each example in `batches`, from a copy of `model` in training mode (BatchNorm
    statistics of the model untouched), each batch under the same random draws (Dropout) every time."""
    probe, scorer = copy.deepcopy(model).train(), ExampleLoss(loss_fn, per_example)
    out = []
    with torch.no_grad():
        for k, batch in enumerate(batches):
            with same_draws(k):
                out.append(scorer(forward(probe, batch, outputs), batch.targets, len(batch)))
    return torch.cat(out)


def needs_more(before: torch.Tensor, after: torch.Tensor, settings: LossDecreasesSettings) -> bool:
    """A fall that is positive but not yet clear, or clear by less than 20% of its bar, with room to score
    more examples: a verdict decided by its measurement's precision, not by the first 512 examples."""
    down = lead(before, after)
    if down.mean <= 0 or len(before) >= settings.max_examples:
        return False
    return _margin(down.mean, down.base, down.se, 0.0, settings) < NEAR_MISS


def loss_decreased(
    losses: torch.Tensor,
    settings: LossDecreasesSettings = LossDecreasesSettings(),
    nonfinite_step: Optional[int] = None,
    lr: Optional[float] = None,
    before: Optional[torch.Tensor] = None,
    after: Optional[torch.Tensor] = None,
) -> Verdict:
    """`losses`: one per optimizer step. `nonfinite_step`: first step whose loss was NaN/Inf, if any.
    `lr`: the learning rate, named in a failure's causes. `before`, `after`: per-example losses of the same
    training examples before the first step and after the last (`score_examples`); without them, the
    first and last steps' losses are compared."""
    if nonfinite_step is not None:
        return failed(
            GATE,
            float("nan"),
            "finite",
            f"the training loss became NaN/Inf at step {nonfinite_step}; training stopped there: it diverged. "
            f"Likely causes: {curves.causes(curves.DIVERGED, lr)}, NaN in the data.",
            TIP,
        )
    if len(losses) < 2:
        return failed(GATE, None, "at least 2 steps", "train ran fewer than 2 steps; raise train.epochs", TIP)
    start, end, drop, noise, where = _fall(losses, settings, before, after)
    ratio = end / start if start > 0 else math.inf
    margin = _margin(drop, start, noise, ratio, settings)
    shown = f"drop >= {settings.min_drop:.0%} and {settings.z:g} se" + (
        f", ratio <= {settings.max_ratio}" if settings.max_ratio else ""
    )
    said = f"training loss {start:.4g} -> {end:.4g} {where} (drop {drop:+.4g} ± {noise:.2g}, ratio {ratio:.2f})"
    if margin >= 0:
        return passed(GATE, round(ratio, 4), shown, said, TIP, margin=margin if math.isfinite(margin) else None)
    kind = curves.shape(losses.tolist()).kind
    what = kind if kind in (curves.FLAT, curves.DIVERGED, curves.OSCILLATING) else curves.PLATEAUED  # fell too little
    said_what = "it fell too little" if what == curves.PLATEAUED else f"the curve {_WORDS[what]}"
    return failed(
        GATE,
        round(ratio, 4),
        shown,
        f"{said}: not clearly lower, {said_what}. Likely causes: {curves.causes(what, lr, _TOO_LITTLE)}. "
        f"<gates.loss_decreases.min_drop={settings.min_drop}, gates.loss_decreases.z={settings.z}>",
        TIP,
        margin=margin,
        curve=what,
    )


def _fall(
    losses: torch.Tensor, settings: LossDecreasesSettings, before: Optional[torch.Tensor], after: Optional[torch.Tensor]
) -> tuple[float, float, float, float, str]:
    """(start, end, drop, its standard error, where it was measured): paired on fixed examples when they
    were scored, else the first and last `window` of the step losses."""
    if before is not None and after is not None and len(before) == len(after) > 1:
        down = lead(before, after)
        where = f"on {len(before)} fixed training examples, before the first step and after the last"
        return down.base, down.base - down.mean, down.mean, down.se, where
    width = max(1, int(len(losses) * settings.window))
    (start, se_start), (end, se_end) = _mean_se(losses[:width]), _mean_se(losses[-width:])
    where = f"over the first and last {width} of {len(losses)} steps"
    return start, end, start - end, math.hypot(se_start, se_end), where


def _margin(drop: float, start: float, noise: float, ratio: float, settings: LossDecreasesSettings) -> float:
    """The nearest of the three thresholds (min_drop, z, max_ratio), as a fraction of itself; < 0: failed."""
    return min(
        drop / (settings.min_drop * abs(start)) - 1 if settings.min_drop * start > 0 else math.inf,
        drop / (settings.z * noise) - 1 if settings.z * noise > 0 else math.inf,
        (settings.max_ratio - ratio) / settings.max_ratio if settings.max_ratio else math.inf,
    )


_WORDS = {curves.FLAT: "stayed flat", curves.DIVERGED: "diverged", curves.OSCILLATING: "swung up and down"}
_TOO_LITTLE = (
    "a learning rate far too low, labels unrelated to the inputs, a model that cannot express the task, "
    "too few steps for this learning rate"
)


GATE = Gate(
    name="loss_decreases",
    stage="train",
    settings=LossDecreasesSettings,
    tip=TIP,
    what="fixed training examples score clearly lower after training than before; no NaN/Inf loss",
    checks=(loss_decreased,),
    event="the end of the fit",
    figures=("loss", "batch", "dynamics"),
    after=("full_pass",),
)
