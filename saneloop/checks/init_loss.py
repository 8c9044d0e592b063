"""Gate `init_loss`: the loss before any step is the one the task derives, plus what random head weights
add, within the noise of the estimate.

Two measurements, each judged against its own noise (scale-free: in standard errors and in fractions
of a loss, so raw, standardised and x1000 units get the same verdict):

- the loss itself: with the head's weights at zero the model's output is its bias, the prior, so its
  loss must be the one the task derives (the prior's entropy, the target variance) within `z`
  standard errors. A loss summed instead of averaged, or scaled, is off by a factor;
- what the random head weights add (or take away: features that already predict the target) on top
  of the prior: at most `head_factor` times what PyTorch's default init of that head adds to the same
  features (measured on fresh draws), or `rtol` of the loss, plus `z` standard errors of the paired
  difference. A head initialised 10x too large adds 100x that. And whatever that tolerance allows, a head
  that adds more than `head_ratio` times what the default head adds is over-scaled (issue 22: a head 20x
  too large added 0.40 against 0.0048, and passed the tolerance);
- a model whose final layer is pretrained (`pretrained`): its loss must be clearly below the prior's
  (`init_loss_pretrained`).

Without a head to zero (no final bias found), the measured loss is judged against the task's
derivation with `rtol` and `z` standard errors.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..data.padding import IGNORE_INDEX, cat_padded
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from ..models.head import find_head
from ..tasks.base import Task
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed
from .init_loss_judges import judge_pretrained, over_scaled
from .measure.fitting import each, same_draws
from .measure.paired import lead
from .measure.per_example import ExampleLoss, example_loss
from .model_loss import own_and_task_losses

TIP = "tip 4: verify loss at init"
DRAWS = 3  # fresh default initialisations of the head whose effect sets the allowance
# The prior's own loss may differ from the task's derivation by this fraction of it (plus the noise): a
# loss summed over a batch is off by a factor of the batch size, not by 1%.
PRIOR_RTOL = 0.01


@dataclass
class InitLossSettings(GateSettings):
    batches: int = bounded(4, low=1)  # training batches the loss is measured on (per example)
    z: float = bounded(3.0, low=0)  # standard errors of the estimate allowed, on top of the tolerances below
    # What the random head weights may add, as a fraction of the prior's loss ...
    rtol: float = bounded(0.15, low=0)
    # ... or as a multiple of what PyTorch's default init of the same head adds (Xavier or Kaiming
    # heads add ~6x; a head initialised 10x too large adds ~100x).
    head_factor: float = bounded(10.0, low=0)
    # More than this multiple of what the default head adds is an over-scaled head, whatever rtol allows: the
    # clean zoo's heads add at most 8.1x (bin_digits_cnn_groupnorm), a head initialised 20x too large 40-84x.
    head_ratio: float = bounded(20.0, low=1)
    # A pretrained model's loss at init is at least this fraction below the prior's (plus z standard errors);
    # a model that says nothing of its past is taken as pretrained when it starts `found_gain` below.
    pretrained_gain: float = bounded(0.02, low=0, high=1)
    found_gain: float = bounded(0.1, low=0, high=1)


@dataclass
class Losses:
    """The loss as training computes it (`task.loss` per batch, averaged per example), and per example (for
    the standard errors): a loss summed over the batch shows in the first, not in the second."""

    mean: float
    examples: torch.Tensor
    zero_output: float = math.nan  # the task's loss of an all-zero output of the same shape (no bias by design)


@dataclass
class InitLossMeasurement:
    with_weights: Losses  # the model as it starts
    bias_only: Optional[Losses]  # the same with the head's weights at zero (None: no head found)
    default_excess: Optional[float]  # mean |loss change| fresh default-initialised heads cause (None: cannot say)
    head: Optional[str]


def loss_at_init(
    model: nn.Module,
    task: Task,
    batches: Iterable[Any],
    train_targets: Optional[torch.Tensor] = None,
    settings: InitLossSettings = InitLossSettings(),
    device: Optional[torch.device] = None,
    bias_set: bool = True,
    head: Optional[str] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
    pretrained: Optional[str] = None,
) -> Verdict:
    """Measure, per example on the first `settings.batches` batches, the loss of a copy of `model` as it
    starts (training mode, no step taken), with its head's weights at zero, and with fresh default heads;
    judge them against what `task` derives from `train_targets` (by default the targets of those batches).

    `bias_set=False`: the model has no final bias (GPT-2's tied head), so with small head weights its
    output starts near zero and the expected loss is that of a zero output (log V for cross-entropy).
    A model trained on its own loss (`outputs.model_loss`, model_output.model_loss) has that loss judged too.
    `pretrained`: how the model is known to be pretrained, head included: judged by `judge_pretrained`.
    Usable on its own: `loss_at_init(model, Classify(10), train_loader).passed`.
    """
    picked = [b if device is None else b.to(device) for b in itertools.islice(each(batches), settings.batches)]
    if train_targets is None:
        train_targets = cat_padded([b.targets for b in picked], IGNORE_INDEX)
    if pretrained is not None:
        prior, derivation = task.expected_init_loss(train_targets)
        return judge_pretrained(
            GATE, *start_loss(model, task, picked, outputs), prior, derivation, settings, pretrained
        )
    measured = measure(model, task, picked, head, outputs)
    expected = task.expected_init_loss(train_targets) if bias_set else zero_output_loss(task, measured, train_targets)
    if picked and outputs.model_loss:
        own, _, _ = own_and_task_losses(model, task.loss, picked, len(picked), outputs=outputs)
        as_measured = InitLossMeasurement(Losses(own, torch.zeros(0)), None, None, None)
        derivation = f"{expected[1]}; the model's own loss <model_output.model_loss>"
        verdict = judge(as_measured, expected[0], derivation, settings)
        if not verdict.passed:
            return verdict
    return judge(measured, *expected, settings)


def start_loss(model: nn.Module, task: Task, picked: list, outputs: ModelOutputs = DEFAULT_OUTPUTS) -> tuple:
    """(mean, standard error) of the loss per example of a copy of `model` as it is, in training mode."""
    start = _losses(copy.deepcopy(model).train(), picked, example_loss(task), outputs)
    return start.mean, _se(start.examples)


def zero_output_loss(
    task: Task, measured: InitLossMeasurement, targets: Optional[torch.Tensor] = None
) -> tuple[float, str]:
    """The task's loss of an all-zero output on the measured batches: what a model without a final bias
    starts at when its head's weights are small (log C for cross-entropy, whatever the class prior; for
    real-valued targets, several regression outputs, no log C is named)."""
    size = task.head_size()
    classes = size > 2 and not (targets is not None and targets.is_floating_point())
    named = f" = log {size} = {math.log(size):.4f} for cross-entropy over {size} classes" if classes else ""
    return measured.with_weights.zero_output, (
        f"no final bias to set: with small head weights the output starts near zero, so the loss starts at a "
        f"zero output's{named}"
    )


def measure(
    model: nn.Module, task: Task, picked: list, head: Optional[str] = None, outputs: ModelOutputs = DEFAULT_OUTPUTS
) -> InitLossMeasurement:
    scorer = example_loss(task)
    probe = copy.deepcopy(model).train()  # a copy: BatchNorm statistics of the model stay untouched
    name, module = find_head(probe, task.head_size(), head)
    weight = getattr(module, "weight", None) if module is not None else None
    with_weights = _losses(probe, picked, scorer, outputs)
    if not isinstance(weight, nn.Parameter):
        return InitLossMeasurement(with_weights, None, None, name)
    kept = weight.detach().clone()
    with torch.no_grad():
        weight.zero_()
    bias_only = _losses(probe, picked, scorer, outputs)
    resettable = hasattr(module, "reset_parameters")
    default = _default_excess(probe, module, picked, scorer, bias_only, outputs) if resettable else None
    with torch.no_grad():
        weight.copy_(kept)
    return InitLossMeasurement(with_weights, bias_only, default, name)


@torch.no_grad()
def _losses(
    model: nn.Module, picked: list, scorer: ExampleLoss, outputs: ModelOutputs, limit: Optional[int] = None
) -> Losses:
    """Batch and per-example losses, each batch under the same random draws (Dropout) whatever the weights."""
    out, total, zero, count = [], 0.0, 0.0, 0
    for k, batch in enumerate(picked[:limit]):
        with same_draws(k):
            output = forward(model, batch, outputs)
        total += float(scorer.loss_fn(output, batch.targets)) * len(batch)
        zero += float(scorer.loss_fn(torch.zeros_like(output), batch.targets)) * len(batch)
        count += len(batch)
        out.append(scorer(output, batch.targets, len(batch)))
    return Losses(total / count, torch.cat(out), zero / count)


def _default_excess(
    probe: nn.Module, head: nn.Module, picked: list, scorer, bias_only: Losses, outputs: ModelOutputs
) -> float:
    """Mean |change of the loss| that PyTorch's default init of `head` (bias kept) causes on these features."""
    bias = getattr(head, "bias", None)
    kept = bias.detach().clone() if isinstance(bias, torch.Tensor) else None
    weight, changes = head.weight, []
    for draw in range(DRAWS):
        with same_draws(1000 + draw), torch.no_grad():
            head.reset_parameters()
            if kept is not None:
                bias.copy_(kept)
        losses = _losses(probe, picked, scorer, outputs, limit=2).examples
        changes.append(abs(float(losses.mean() - bias_only.examples[: len(losses)].mean())))
    with torch.no_grad():
        weight.zero_()
        if kept is not None:
            bias.copy_(kept)
    return sum(changes) / len(changes)


def _se(values: torch.Tensor) -> float:
    return float(values.double().std() / math.sqrt(len(values))) if len(values) > 1 else 0.0


def judge(m: InitLossMeasurement, expected: float, derivation: str, settings: InitLossSettings) -> Verdict:
    """The loss of the prior against the task's derivation, then what the random head weights add."""
    measured = m.with_weights.mean
    if m.bias_only is None:
        allowed = settings.z * _se(m.with_weights.examples) + settings.rtol * abs(expected)
        return _verdict(measured, measured - expected, allowed, expected, derivation, settings, "")
    prior = m.bias_only.mean
    allowed_prior = settings.z * _se(m.bias_only.examples) + PRIOR_RTOL * abs(expected)
    if not abs(prior - expected) <= allowed_prior:
        return _wrong_prior(measured, prior, expected, allowed_prior, derivation, m.head)
    added = lead(m.bias_only.examples, m.with_weights.examples)  # what the weights take away (negative: add)
    added_mean = prior - measured  # as training computes the loss
    allowance = max(settings.rtol * abs(prior), settings.head_factor * (m.default_excess or 0.0))
    noise = settings.z * (added.se if math.isfinite(added.se) else 0.0)
    default = f"; a default-initialised {m.head} adds {m.default_excess:.3g}" if m.default_excess is not None else ""
    note = f" ({m.head}'s random weights change the prior's {prior:.4g} by {-added_mean:+.4g}{default})"
    if m.default_excess and -added_mean > max(settings.head_ratio * m.default_excess, noise):
        return over_scaled(GATE, measured, -added_mean, m.default_excess, expected, derivation, settings, note)
    return _verdict(measured, -added_mean, noise + allowance, expected, derivation, settings, note)


def _verdict(
    measured: float, excess: float, allowed: float, expected: float, derivation: str, settings, note: str
) -> Verdict:
    shown = f"{expected:.4f} ± {allowed:.3g}"
    margin = (allowed - abs(excess)) / allowed if allowed > 0 else None
    key = f"<gates.init_loss.rtol={settings.rtol}, gates.init_loss.head_factor={settings.head_factor}>"
    if abs(excess) <= allowed:
        return passed(
            GATE,
            round(measured, 4),
            shown,
            f"loss at init {measured:.4f} vs {expected:.4f} ({derivation}){note}, within {allowed:.3g}",
            TIP,
            margin=margin,
        )
    cause = (
        "Likely causes: final-layer weights initialised far too large, an output scale, features of a huge "
        "scale (inputs not normalised)."
        if excess > 0
        else "Likely causes: targets leaked into the inputs, a loss that can go negative."
    )
    return failed(
        GATE,
        round(measured, 4),
        shown,
        f"loss at init {measured:.4f} is {abs(excess):.4g} away from {expected:.4f} ({derivation}){note}, more "
        f"than the {allowed:.3g} that noise and a well-initialised head allow. {cause} {key}",
        TIP,
        margin=margin,
    )


def _wrong_prior(
    measured: float, prior: float, expected: float, allowed: float, derivation: str, head: Optional[str]
) -> Verdict:
    factor = f" (x{prior / expected:.3g})" if expected else ""
    return failed(
        GATE,
        round(measured, 4),
        f"{expected:.4f} ± {allowed:.3g}",
        f"with {head}'s weights at zero the model predicts its bias, the prior, and that scores {prior:.4f}, not "
        f"the {expected:.4f} the task derives ({derivation}){factor}: the loss itself is off. Likely causes: a "
        "loss summed instead of averaged (reduction='sum'), a loss scaled or reduced over the wrong axis, a "
        "loss that expects log-probabilities given raw logits (nll_loss). Loss at init with the weights: "
        f"{measured:.4f}.",
        TIP,
        margin=(allowed - abs(prior - expected)) / allowed if allowed > 0 else None,
    )


GATE = Gate(
    name="init_loss",
    stage="sanity",
    settings=InitLossSettings,
    tip=TIP,
    what="the loss at init matches the loss the task derives from the data (-log(1/C) when balanced), within noise",
    checks=(loss_at_init,),
    after=("init_bias",),
)
