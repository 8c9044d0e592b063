"""Gate `init_loss`: the loss before any step matches the value the task derives."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..tasks.base import Task
from .fitting import each, mean_loss
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
) -> Verdict:
    """Measure the mean loss per example of a copy of `model` as it starts (training mode, no step taken)
    on the first `settings.batches` batches, and compare it with what `task` derives from the training
    targets (`train_targets`; by default the targets of those batches).

    Usable on its own: `loss_at_init(model, Classify(10), train_loader).passed`.
    """
    picked = list(itertools.islice(each(batches), settings.batches))
    probe = copy.deepcopy(model).train()  # a copy: BatchNorm statistics of the model stay untouched
    measured, _ = mean_loss(probe, task.loss, picked, device=device)
    if train_targets is None:
        train_targets = torch.cat([b.targets for b in picked])
    return judge(measured, *task.expected_init_loss(train_targets), settings)


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
