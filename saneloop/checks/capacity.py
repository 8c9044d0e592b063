"""Gate `capacity`: a wider model, trained for the same short budget, reaches a training loss no
higher than the model's, within noise. For a pretrained model: the same model with more of it trained
(`unfreeze`), or a higher adapter rank (`wider` on `peft.*` keys, with init_from's weights loaded).

More capacity should fit the training data at least as well. When it does not, something in the
model does not scale: an init that ignores fan-in, a width argument that is ignored or narrows
another layer, a learning rate only the smaller model tolerates.
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin
from .measure.fitting import LossFn, OptimizerFactory, cycled, default_optimizer, paired_draws, step, trainable, with_lr

TIP = "tip 9: a bit more capacity lowers the training loss"


@dataclass
class CapacitySettings(GateSettings):
    # Config overrides that make the model wider, e.g. {model.hidden: 512}; empty: the gate is skipped.
    wider: dict[str, Any] = field(default_factory=dict)
    # For a pretrained model, more capacity is more of it trained: globs of frozen parameters to unfreeze in
    # the larger copy, e.g. [body.2.*] (a wider model would start from random init, not from the pretraining).
    unfreeze: list[str] = field(default_factory=list)
    steps: int = bounded(100, low=2)  # optimizer steps for each model before the first comparison
    # If the wider model is behind after `steps`, both train on (the gap doubling) up to this budget: a
    # wider model can start slower at the same learning rate and still fit better soon after.
    max_steps: int = bounded(800, low=2)
    lr: Optional[float] = bounded(None, low=0, above=True)  # learning rate for both; null = optim.lr
    window: float = bounded(0.25, low=0, high=1, above=True)  # final fraction of the steps whose losses are compared
    # Allowed excess of the wider model's loss, in standard errors of the paired per-step difference.
    z: float = bounded(2.0, low=0)
    # Plus this fraction of the model's own loss: the two curves are correlated from step to step, so
    # the standard error alone understates how far two correct runs of 100 steps can end apart.
    rtol: float = bounded(0.25, low=0)


def wider_no_worse(
    model: nn.Module,
    wider: nn.Module,
    batches: Iterable[Any],
    loss_fn: LossFn,
    optimizer: OptimizerFactory = default_optimizer,
    settings: CapacitySettings = CapacitySettings(),
    what: str = "a wider model",
    device: Optional[torch.device] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """Train copies of `model` and of `wider` (both as initialised) on the same batches, in lockstep, and
    compare their training-loss curves (`judge`) after `settings.steps` steps; while the wider one is
    behind, train on, doubling, up to `settings.max_steps`.

    Usable on its own: `wider_no_worse(MLP(64, 10, hidden=32), MLP(64, 10, hidden=64), loader, F.cross_entropy)`.
    """
    small, large = copy.deepcopy(model).train(), copy.deepcopy(wider).train()
    make = with_lr(optimizer, settings.lr)
    opt_small = make(trainable(small))
    opt_large = make(trainable(large))
    base_losses: list[float] = []
    wide_losses: list[float] = []
    stream, target = cycled(batches, max(settings.max_steps, settings.steps)), settings.steps
    while True:
        for batch in itertools.islice(stream, target - len(base_losses)):
            batch = batch if device is None else batch.to(device)
            with paired_draws() as again:
                base_losses.append(step(small, opt_small, loss_fn, batch, outputs))
                again()
                wide_losses.append(step(large, opt_large, loss_fn, batch, outputs))
        verdict = judge(base_losses, wide_losses, what, settings)
        if verdict.passed or len(base_losses) < target or target >= settings.max_steps:
            return verdict
        target = min(2 * target, settings.max_steps)


def more_unfrozen(model: nn.Module, globs: list[str]) -> tuple[nn.Module, list[str]]:
    """A copy of `model` with its frozen parameters that match `globs` trainable, and their names."""
    larger = copy.deepcopy(model)
    opened = [n for n, p in larger.named_parameters() if not p.requires_grad and _matches(n, globs)]
    for name, param in larger.named_parameters():
        if name in opened:
            param.requires_grad_(True)
    return larger, opened


def _matches(name: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)


def judge(base: Sequence[float], wider: Sequence[float], what: str, settings: CapacitySettings) -> Verdict:
    """Compare the final `window` of two per-step training-loss curves taken on the same batches.

    Pairing step by step cancels the batch-to-batch noise; the verdict allows `z` standard errors of
    the differences plus `rtol` of the model's own final loss.
    """
    width = max(2, int(min(len(base), len(wider)) * settings.window))
    a, b = list(base)[-width:], list(wider)[-width:]
    diffs = [y - x for x, y in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / max(len(diffs) - 1, 1))
    base_end, wide_end = sum(a) / len(a), sum(b) / len(b)
    allowed = settings.z * sd / math.sqrt(len(diffs)) + settings.rtol * abs(base_end)
    knob = (
        f"gates.capacity.unfreeze={settings.unfreeze}"
        if settings.unfreeze
        else f"gates.capacity.wider={settings.wider}"
    )
    key = f"<{knob}, gates.capacity.max_steps={settings.max_steps}>"
    steps = min(len(base), len(wider))
    message = (
        f"over the last {width} of {steps} steps, training loss {wide_end:.4f} for the wider model "
        f"({what}) vs {base_end:.4f} for the model (difference {mean:+.4f}, noise {allowed:.4f})"
    )
    margin = relative_margin(mean, allowed) if allowed > 0 else None
    if math.isfinite(mean) and mean <= allowed:
        return passed(GATE, round(mean, 4), f"<= {allowed:.4f}", message, TIP, margin=margin, base=a, wider=b)
    return failed(
        GATE,
        round(mean, 4) if math.isfinite(mean) else mean,
        f"<= {allowed:.4f}",
        f"{message}: more capacity made the training loss worse. Likely causes: weights initialised "
        "without scaling by 1/sqrt(fan_in), a learning rate too high for the wider model, a width argument "
        f"that is ignored or shrinks another layer, a bottleneck elsewhere; for more unfrozen layers, a learning "
        f"rate that destroys their pretrained features. {key}",
        TIP,
        margin=margin,
        base=a,
        wider=b,
    )


GATE = Gate(
    name="capacity",
    stage="capacity",
    budget_share=0.35,
    settings=CapacitySettings,
    tip=TIP,
    what="a wider model reaches a training loss no higher than the model's, within noise",
    checks=(wider_no_worse,),
    applies=("wider",),
)
