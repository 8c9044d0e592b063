"""Gate `overfit`: a few examples can be driven to ~zero loss within a step budget."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "tip 8: overfit one batch"

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Settings(GateSettings):
    batch_size: int = 8  # examples in the fixed batch
    max_steps: int = 300  # optimizer steps allowed to get there
    threshold: float = 0.01  # the loss the batch must get below
    lr: Optional[float] = None  # learning rate for this stage; null = optim.lr


def overfit_batch(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: LossFn,
                  inputs: torch.Tensor, targets: torch.Tensor, settings: Settings, floor: float = 0.0) -> Verdict:
    """Train `model` (a copy: it is changed) on one fixed batch until the loss is below threshold.

    Dropout is switched off while it runs: noise that regularises must not stop memorising.
    `floor`: the least loss any model can reach on this batch (e.g. a language model cannot tell
    windows apart whose prefixes are identical); the goal is floor + threshold.
    """
    goal = floor + settings.threshold
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.eval()
    losses: list[float] = []
    for step in range(settings.max_steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        losses.append(loss.item())
        if losses[-1] < goal or not math.isfinite(losses[-1]):
            break
        loss.backward()
        optimizer.step()
    final = losses[-1]
    key = (f"<gates.overfit.threshold={settings.threshold}, gates.overfit.max_steps={settings.max_steps}, "
           f"gates.overfit.batch_size={settings.batch_size}>")
    details = {"losses": losses, "steps": len(losses) - 1, "floor": floor}
    floor_note = (f" (= threshold + a floor of {floor:.4f}: inputs the model cannot tell apart have different "
                  "targets)") if floor else ""
    if final < goal:
        reached = f"{final:.4g} < {goal:.4g}{floor_note}" if floor else f"{final:.2g}"
        return passed("overfit", round(final, 6), f"< {goal:.4g}",
                      f"{len(inputs)} examples reached loss {reached} in {len(losses) - 1} steps", TIP, **details)
    return failed("overfit", round(final, 6) if math.isfinite(final) else final, f"< {goal:.4g}",
                  f"{len(inputs)} examples did not get below {goal:.4g}{floor_note} in {settings.max_steps} steps "
                  f"(loss went {losses[0]:.4g} -> {final:.4g}). Likely causes: a softmax or sigmoid before a loss "
                  "that expects logits, frozen or detached parameters, an optimizer that does not hold the "
                  f"model's parameters, a learning rate far too low or too high. {key}", TIP, **details)
