"""Gate `loss_decreases`: the smoothed training loss ends clearly below where it started."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from .settings import GateSettings, bounded
from .verdict import Verdict, failed, passed

TIP = "tip 9: the training loss goes down"


@dataclass
class LossDecreasesSettings(GateSettings):
    window: float = bounded(
        0.1, low=0, high=1, above=True
    )  # fraction of the steps averaged at the start and at the end
    max_ratio: float = bounded(0.5, low=0, above=True)  # end / start must be at most this


def loss_decreased(
    losses: torch.Tensor,
    settings: LossDecreasesSettings = LossDecreasesSettings(),
    nonfinite_step: Optional[int] = None,
) -> Verdict:
    """`losses`: one per optimizer step. `nonfinite_step`: first step whose loss was NaN/Inf, if any."""
    if nonfinite_step is not None:
        return failed(
            "loss_decreases",
            float("nan"),
            "finite",
            f"the training loss became NaN/Inf at step "
            f"{nonfinite_step}; training stopped there. Likely causes: a learning rate far too high, "
            "log or division by zero in the model or loss, NaN in the data.",
            TIP,
        )
    if len(losses) < 2:
        return failed(
            "loss_decreases",
            None,
            "at least 2 steps",
            "train ran fewer than 2 steps; raise train.epochs or train.max_steps",
            TIP,
        )
    width = max(1, int(len(losses) * settings.window))
    start, end = float(losses[:width].mean()), float(losses[-width:].mean())
    ratio = end / start if start > 0 else math.inf
    shown = f"<= {settings.max_ratio}"
    if ratio <= settings.max_ratio:
        return passed(
            "loss_decreases",
            round(ratio, 4),
            shown,
            f"smoothed loss {start:.4f} -> {end:.4f} over {len(losses)} steps",
            TIP,
        )
    return failed(
        "loss_decreases",
        round(ratio, 4),
        shown,
        f"smoothed loss went {start:.4f} -> {end:.4f} over {len(losses)} steps (ratio {ratio:.2f}). "
        "Likely causes: learning rate zero or far too low, gradients zeroed after the step instead of "
        "before, an optimizer that does not hold the model's parameters, labels unrelated to inputs. "
        f"<gates.loss_decreases.max_ratio={settings.max_ratio}>",
        TIP,
    )
