"""Gate `overfit`: a few examples can be driven to ~zero loss within a step budget."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from .fitting import OptimizerFactory, default_optimizer, trainable, with_lr
from .probing import as_batch
from .settings import GateSettings, bounded
from .verdict import Verdict, failed, passed

TIP = "tip 8: overfit one batch"

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class OverfitSettings(GateSettings):
    batch_size: int = bounded(8, low=1)  # examples in the fixed batch
    max_steps: int = bounded(300, low=1)  # optimizer steps allowed to get there
    threshold: float = bounded(0.01, low=0)  # the loss the batch must get below
    lr: Optional[float] = bounded(None, low=0, above=True)  # learning rate for this stage; null = optim.lr


def overfit_batch(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any = None,
    optimizer: OptimizerFactory = default_optimizer,
    settings: OverfitSettings = OverfitSettings(),
    floor: float = 0.0,
) -> Verdict:
    """Train a copy of `model` on one fixed batch (`inputs` and `targets`, or a Batch) until the loss is
    below the threshold; the copy's final outputs are in `details["outputs"]` (for the overfit plot).

    Dropout is switched off while it runs: noise that regularises must not stop memorising.
    `floor`: the least loss any model can reach on this batch (e.g. a language model cannot tell
    windows apart whose prefixes are identical); the goal is floor + threshold.
    Usable on its own: `overfit_batch(model, F.cross_entropy, x[:8], y[:8]).passed`.
    """
    batch, probe = as_batch(inputs, targets), copy.deepcopy(model)
    optimizer = with_lr(optimizer, settings.lr)(trainable(probe))
    goal = floor + settings.threshold
    probe.train()
    for module in probe.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.eval()
    losses: list[float] = []
    for _ in range(settings.max_steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(batch.forward(probe), batch.targets)
        losses.append(loss.item())
        if losses[-1] < goal or not math.isfinite(losses[-1]):
            break
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        outputs = batch.forward(probe).detach().float().cpu()  # in the mode it trained in (Dropout off)
    return _judge(losses, goal, floor, len(batch), settings, outputs)


def _judge(
    losses: list[float], goal: float, floor: float, size: int, settings: OverfitSettings, outputs: torch.Tensor
) -> Verdict:
    final = losses[-1]
    key = (
        f"<gates.overfit.threshold={settings.threshold}, gates.overfit.max_steps={settings.max_steps}, "
        f"gates.overfit.batch_size={settings.batch_size}>"
    )
    details = {"losses": losses, "steps": len(losses) - 1, "floor": floor, "outputs": outputs}
    floor_note = (
        (f" (= threshold + a floor of {floor:.4f}: inputs the model cannot tell apart have different targets)")
        if floor
        else ""
    )
    if final < goal:
        reached = f"{final:.4g} < {goal:.4g}{floor_note}" if floor else f"{final:.2g}"
        return passed(
            "overfit",
            round(final, 6),
            f"< {goal:.4g}",
            f"{size} examples reached loss {reached} in {len(losses) - 1} steps",
            TIP,
            **details,
        )
    return failed(
        "overfit",
        round(final, 6) if math.isfinite(final) else final,
        f"< {goal:.4g}",
        f"{size} examples did not get below {goal:.4g}{floor_note} in {settings.max_steps} steps "
        f"(loss went {losses[0]:.4g} -> {final:.4g}). Likely causes: a softmax or sigmoid before a loss "
        "that expects logits, frozen or detached parameters, an optimizer that does not hold the "
        f"model's parameters, a learning rate far too low or too high. {key}",
        TIP,
        **details,
    )
