"""Gate `init_bias`: the final bias was set from the training targets and reaches the prediction.

The check is structural: with the head's weights at zero, the model's output is its final bias,
so its mean prediction must be the prior. What the random weights add on top (a correct residual
stack or BatchNorm model moves the mean prediction by 0.1 or more at PyTorch's default init) is
reported, and judged by `init_loss` against the loss the task derives.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from ..models.head import bias_free_head, find_head
from ..tasks.base import Task
from ..tasks.traits import traits_of
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin
from .measure.fitting import each

TIP = "tip 5: init well (final bias from the data)"


@dataclass
class InitBiasSettings(GateSettings):
    batches: int = bounded(4, low=1)  # training batches whose mean prediction is compared with the prior
    # Largest gap allowed between the prior and the mean prediction of the model with its head's
    # weights at zero (total variation for classes): 0 when the bias reaches the output as set.
    max_prior_gap: float = bounded(0.1, low=0)
    # A prior this close to uniform needs no bias (e.g. a head without bias on balanced classes).
    uniform_tolerance: float = bounded(0.05, low=0)


def bias_reaches_output(
    model: nn.Module,
    task: Task,
    batches: Iterable[Any],
    train_targets: Optional[torch.Tensor] = None,
    head: Optional[str] = None,
    what_was_set: str = "value set from the data",
    settings: InitBiasSettings = InitBiasSettings(),
    device: Optional[torch.device] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """Judge the final bias of `model` (set from the data beforehand, e.g. by `task.init_bias`): with the
    head's weights at zero the output is the bias, so the mean prediction over the first
    `settings.batches` batches must be the prior of `train_targets` (by default those batches' targets).

    `head`: the final layer's name; by default the last module with a bias of the task's output size.
    Usable on its own: `bias_reaches_output(model, Classify(10), train_loader).passed`.
    """
    picked = list(itertools.islice(each(batches), settings.batches))
    targets = train_targets if train_targets is not None else torch.cat([b.targets for b in picked])
    name, _ = find_head(model, task.head_size(), head)
    with_weights = _outputs(model, picked, None, device, outputs)
    uniform_gap, _ = task.prior_gap(torch.zeros_like(with_weights[:1]), targets)
    weights_gap, meaning = task.prior_gap(with_weights, targets)
    if name is None:
        return judge(None, what_was_set, weights_gap, meaning, uniform_gap, settings, by_design=_by_design(model, task))
    bias_only, _ = task.prior_gap(_outputs(model, picked[:1], name, device, outputs), targets)
    return judge(name, what_was_set, bias_only, meaning, uniform_gap, settings, weights_gap)


@torch.no_grad()
def _outputs(
    model: nn.Module,
    batches: list[Any],
    zero_head: Optional[str],
    device: Optional[torch.device],
    read: ModelOutputs,
) -> torch.Tensor:
    """Outputs of a copy in training mode (BatchNorm statistics of the model stay untouched), with the
    weights of module `zero_head` at zero if given (then its output is its bias)."""
    probe = copy.deepcopy(model).train()
    weight = getattr(probe.get_submodule(zero_head), "weight", None) if zero_head is not None else None
    if isinstance(weight, torch.Tensor):
        weight.zero_()
    outputs = [forward(probe, b if device is None else b.to(device), read).float().cpu() for b in batches]
    # per-position outputs [B, T, V] of padded batches differ in T: their positions are what counts
    return torch.cat([o.reshape(-1, o.shape[-1]) if o.dim() > 2 else o for o in outputs])


def _by_design(model: nn.Module, task: Task) -> str:
    """Why a head without a bias is fine here ('' when it is not): a task whose heads commonly have none
    (language models: GPT-2, Llama), or a head whose weight is tied to the input embedding."""
    head = bias_free_head(model, task.head_size())
    if head is not None and "tied" in head:
        return f"the final layer {head} has no bias by design"
    if traits_of(task).head_bias_optional:
        return (
            f"the final layer {head or '(not found)'} has no bias, as {task.name} heads often have none (GPT-2, Llama)"
        )
    return ""


def judge(
    head: Optional[str],
    what_was_set: str,
    prior_gap: float,
    gap_meaning: str,
    uniform_gap: float,
    settings: InitBiasSettings,
    with_weights_gap: Optional[float] = None,
    by_design: str = "",
) -> Verdict:
    """`prior_gap`: gap from the prior of the mean prediction with the head's weights at zero, the
    bias set. `uniform_gap`: gap of a zero-bias prediction from the prior (how much the bias matters).
    `with_weights_gap`: the same gap with the random weights in place (reported, not judged)."""
    weights = (
        ""
        if with_weights_gap is None
        else (f"; with the random weights in place it is {with_weights_gap:.3f} (judged by init_loss)")
    )
    if head is None:
        return _no_head(uniform_gap, settings, by_design)
    margin = relative_margin(prior_gap, settings.max_prior_gap)
    if prior_gap > settings.max_prior_gap:
        return failed(
            GATE,
            round(prior_gap, 4),
            f"<= {settings.max_prior_gap}",
            f"set {head}.bias to the {what_was_set}, but with {head}'s weights at zero the model's mean "
            f"prediction is still {prior_gap:.3f} away from the prior ({gap_meaning}): the bias does not "
            "reach the output as set. Likely causes: layers after the head (a scale, a softmax or "
            "sigmoid before a loss that expects logits), or a head that is not the last layer (set "
            f"model_head) <gates.init_bias.max_prior_gap={settings.max_prior_gap}>{weights}.",
            TIP,
            margin=margin,
        )
    return passed(
        GATE,
        round(prior_gap, 4),
        f"<= {settings.max_prior_gap}",
        f"set {head}.bias to the {what_was_set}; with {head}'s weights at zero the mean prediction is "
        f"{prior_gap:.3f} from the prior{weights}",
        TIP,
        margin=margin,
    )


def _no_head(uniform_gap: float, settings: InitBiasSettings, by_design: str = "") -> Verdict:
    """No final bias to set: fine when the prior is close to what a zero bias predicts, or when the head
    has none by design (`by_design` says why; init_loss then expects a zero output's loss)."""
    if by_design and uniform_gap > settings.uniform_tolerance:
        return passed(
            GATE,
            None,
            "a final bias",
            f"no final bias to set: {by_design}. The prediction at init is then a zero output, not the prior "
            f"(gap {uniform_gap:.3f}); init_loss judges the loss that implies (log V for small head weights)",
            TIP,
        )
    if uniform_gap <= settings.uniform_tolerance:
        return passed(
            GATE,
            None,
            "a final bias",
            "the model has no final bias to set; the target "
            f"prior is close to what a zero bias predicts (gap {uniform_gap:.3f}), so none is needed",
            TIP,
        )
    return failed(
        GATE,
        None,
        "a final bias",
        "the model has no final bias to set, and the target prior "
        f"is far from what a zero bias predicts (gap {uniform_gap:.3f} > {settings.uniform_tolerance}). "
        "Add a bias to the last layer (e.g. nn.Linear(..., bias=True)) or name it with model_head.",
        TIP,
    )


GATE = Gate(
    name="init_bias",
    stage="sanity",
    settings=InitBiasSettings,
    tip=TIP,
    what="the final bias set from the training targets reaches the output: the mean prediction is the prior",
    checks=(bias_reaches_output,),
    after=("modes",),
)
