"""Gate `input_independent`: a model trained on real inputs beats the same model trained on zeros.

If the labels do not follow the inputs (shuffled apart from them, misaligned after a join or a
filter), a model learns nothing from the inputs that a model fed zeros does not. The loss is
measured on held-out batches, because a model can memorise even random labels on its training
data (Zhang et al., 2017).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..data.batch import Batch
from .fitting import (
    LossFn,
    OptimizerFactory,
    cycled,
    default_optimizer,
    mean_loss,
    paired_draws,
    step,
    trainable,
    with_lr,
)
from .settings import GateSettings, bounded
from .verdict import Verdict, failed, passed

TIP = "tip 7: input-independent baseline"
GATE = "input_independent"


@dataclass
class InputIndependentSettings(GateSettings):
    steps: int = bounded(100, low=1)  # optimizer steps for each of the two copies, on the same batches
    lr: Optional[float] = bounded(None, low=0, above=True)  # learning rate for both; null = optim.lr
    held_out_batches: int = bounded(2, low=1)  # test batches the two losses are measured on
    # real-input loss / zeroed-input loss must be at most this: "clearly lower", not a tie.
    max_ratio: float = bounded(0.9, low=0, above=True)


def zero_inputs(batch: Batch) -> Batch:
    """The batch with every input replaced by zeros (token ids become token 0: just as input-free)."""
    return batch.map_inputs(lambda _, tensor: torch.zeros_like(tensor))


def learns_from_inputs(
    model: nn.Module,
    train_batches: Iterable[Any],
    held_out_batches: Iterable[Any],
    loss_fn: LossFn,
    optimizer: OptimizerFactory = default_optimizer,
    settings: InputIndependentSettings = InputIndependentSettings(),
    zero: Callable[[Batch], Batch] = zero_inputs,
    device: Optional[torch.device] = None,
) -> Verdict:
    """Train two copies of `model` from its current weights on the same batches, one fed the real inputs
    and one fed zeros (with the same Dropout draws), then compare their losses on held-out batches.

    Usable on its own: `learns_from_inputs(model, train_loader, test_loader, F.cross_entropy).passed`.
    """
    real, zeroed = copy.deepcopy(model), copy.deepcopy(model)
    make = with_lr(optimizer, settings.lr)
    opt_real, opt_zeroed = make(trainable(real)), make(trainable(zeroed))
    real.train()
    zeroed.train()
    for batch in cycled(train_batches, settings.steps):
        batch = batch if device is None else batch.to(device)
        with paired_draws() as again:
            step(real, opt_real, loss_fn, batch)
            again()
            step(zeroed, opt_zeroed, loss_fn, zero(batch))
    real.eval()
    zeroed.eval()
    held_out = list(itertools.islice(held_out_batches, settings.held_out_batches))
    real_loss, _ = mean_loss(real, loss_fn, held_out, device=device)
    zeroed_loss, _ = mean_loss(zeroed, loss_fn, held_out, device=device, transform=zero)
    return judge(real_loss, zeroed_loss, settings)


def judge(real: float, zeroed: float, settings: InputIndependentSettings) -> Verdict:
    """`real`, `zeroed`: held-out losses of two copies of a model trained from the same init for
    `settings.steps` steps on the same batches, one fed the real inputs and one fed zeros."""
    ratio = real / zeroed if zeroed > 0 else (0.0 if real <= 0 else math.inf)
    if not math.isfinite(real):
        ratio = math.inf
    shown = f"<= {settings.max_ratio}"
    key = f"<gates.input_independent.max_ratio={settings.max_ratio}, gates.input_independent.steps={settings.steps}>"
    if ratio <= settings.max_ratio:
        return passed(
            GATE,
            round(ratio, 4),
            shown,
            f"after {settings.steps} steps, held-out loss {real:.4f} on real "
            f"inputs vs {zeroed:.4f} on zeroed inputs (ratio {ratio:.2f})",
            TIP,
            real=real,
            zeroed=zeroed,
        )
    return failed(
        GATE,
        round(ratio, 4) if math.isfinite(ratio) else ratio,
        shown,
        f"after {settings.steps} steps, the model fed real inputs reached held-out loss {real:.4f}, the same "
        f"model fed zeros {zeroed:.4f} (ratio {ratio:.2f}): it learns no more from the inputs than from "
        "their absence. Likely causes: labels shuffled apart from the inputs (a permutation applied to one "
        "and not the other), test labels misaligned with test inputs, inputs overwritten or constant, a "
        f"model that ignores its input, a learning rate far too low for {settings.steps} steps. {key}",
        TIP,
        real=real,
        zeroed=zeroed,
    )
