"""Gate `init_loss`: the loss before any step matches the value the task derives."""

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
from ..tasks.base import Task
from .fitting import each, mean_loss
from .model_loss import own_and_task_losses
from .settings import GateSettings, bounded
from .verdict import Verdict, failed, passed

TIP = "tip 4: verify loss at init"


@dataclass
class InitLossSettings(GateSettings):
    batches: int = bounded(4, low=1)  # training batches the measured loss is averaged over
    # Allowed relative gap |measured - expected| / expected. Random head weights add a little
    # to the prior's entropy; a mis-scaled init or a summed loss adds far more.
    rtol: float = bounded(0.15, low=0)


def loss_at_init(
    model: nn.Module,
    task: Task,
    batches: Iterable[Any],
    train_targets: Optional[torch.Tensor] = None,
    settings: InitLossSettings = InitLossSettings(),
    device: Optional[torch.device] = None,
    bias_set: bool = True,
) -> Verdict:
    """Measure the mean loss per example of a copy of `model` as it starts (training mode, no step taken)
    on the first `settings.batches` batches, and compare it with what `task` derives from the training
    targets (`train_targets`; by default the targets of those batches).

    `bias_set=False`: the model has no final bias (GPT-2's tied head), so with small head weights its
    output starts near zero and the expected loss is that of a zero output (log V for cross-entropy).
    A model trained on its own loss (model_output.model_loss) has that loss judged too.
    Usable on its own: `loss_at_init(model, Classify(10), train_loader).passed`.
    """
    picked = list(itertools.islice(each(batches), settings.batches))
    probe = copy.deepcopy(model).train()  # a copy: BatchNorm statistics of the model stay untouched
    measured, _ = mean_loss(probe, task.loss, picked, device=device)
    if train_targets is None:
        train_targets = cat_padded([b.targets for b in picked], IGNORE_INDEX)
    expected = task.expected_init_loss(train_targets) if bias_set else zero_output_loss(task, probe, picked, device)
    if picked and picked[0].format.model_loss:
        own, _, _ = own_and_task_losses(probe, task.loss, picked, len(picked), device)
        verdict = judge(own, expected[0], f"{expected[1]}; the model's own loss <model_output.model_loss>", settings)
        if not verdict.passed:
            return verdict
    return judge(measured, *expected, settings)


@torch.no_grad()
def zero_output_loss(task: Task, model: nn.Module, batches: list, device: Optional[torch.device]) -> tuple[float, str]:
    """The task's loss of an all-zero output on these batches: what a model without a final bias starts at
    when its head's weights are small (log C for cross-entropy, whatever the class prior)."""
    total, count = 0.0, 0
    for batch in batches:
        batch = batch if device is None else batch.to(device)
        logits = batch.forward(model)
        total += float(task.loss(torch.zeros_like(logits), batch.targets)) * len(batch)
        count += len(batch)
    size = task.head_size()
    named = f" = log {size} = {math.log(size):.4f} for cross-entropy over {size} classes" if size > 2 else ""
    return total / max(count, 1), (
        f"no final bias to set: with small head weights the output starts near zero, so the loss starts at a "
        f"zero output's{named}"
    )


def judge(measured: float, expected: float, derivation: str, settings: InitLossSettings) -> Verdict:
    gap = abs(measured - expected) / max(abs(expected), 1e-12)
    shown_expected = f"{expected:.4f} ± {settings.rtol:.0%}"
    if gap <= settings.rtol:
        return passed(
            "init_loss",
            round(measured, 4),
            shown_expected,
            f"loss at init {measured:.4f} vs {expected:.4f} ({derivation}), {gap:.1%} apart",
            TIP,
        )
    cause = (
        (
            "Likely causes: final-layer weights initialised far too large, a loss summed instead of averaged "
            "(reduction='sum'), or an output scale."
        )
        if measured > expected
        else (
            "Likely causes: targets leaked into the inputs, a loss that expects log-probabilities given raw "
            "logits (nll_loss), or a loss that can go negative."
        )
    )
    return failed(
        "init_loss",
        round(measured, 4),
        shown_expected,
        f"loss at init {measured:.4f} is {gap:.0%} away from {expected:.4f} ({derivation}). {cause} "
        f"<gates.init_loss.rtol={settings.rtol}>",
        TIP,
    )
