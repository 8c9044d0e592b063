"""Gate `params_learn`: after one backward pass, every trainable parameter has a non-zero gradient.

A parameter that gets no gradient never learns: a submodule whose output is detached, a branch that
is computed but never used, a layer multiplied by zero. The loss still falls through the rest of
the model, so training alone does not show it. Frozen parameters (requires_grad=False) are a
choice, not a bug: they are listed for information.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .base.gate import Gate
from .base.settings import GateSettings
from .base.verdict import Verdict, failed, passed
from .measure.probing import as_batch

TIP = "tip 12: use backprop to chart dependencies (every parameter learns)"
_LISTED = 12

LossFn = Callable[[Any, torch.Tensor], torch.Tensor]


@dataclass
class ParamsLearnSettings(GateSettings):
    pass


def every_param_learns(
    model: nn.Module, loss_fn: LossFn, inputs: Any, targets: Any = None, *, outputs: ModelOutputs = DEFAULT_OUTPUTS
) -> Verdict:
    """One forward and backward pass of a copy (training mode) on a real batch (`inputs` a tensor, a tuple
    of inputs, a dict of keyword inputs, or a Batch with its targets); name every trainable parameter
    whose gradient is missing or zero everywhere. Usable on its own:
    `every_param_learns(model, F.cross_entropy, x, y).passed`."""
    batch = as_batch(inputs, targets)
    probe = copy.deepcopy(model).train()
    probe.zero_grad(set_to_none=True)
    loss_fn(forward(probe, batch, outputs), batch.targets if targets is None else targets).backward()
    named = list(probe.named_parameters())
    frozen = [name for name, p in named if not p.requires_grad]
    missing = [name for name, p in named if p.requires_grad and p.grad is None]
    zero = [name for name, p in named if p.requires_grad and p.grad is not None and not bool(p.grad.any())]
    zero = _still_zero_after_a_step(probe, zero, lambda m: loss_fn(forward(m, batch, outputs), batch.targets))
    trainable = len(named) - len(frozen)
    info = f"; frozen (requires_grad=False, not trained by choice): {_names(frozen)}" if frozen else ""
    details = {"frozen": frozen, "no_grad": missing, "zero_grad": zero}
    if not missing and not zero:
        return passed(
            GATE, 0, 0, f"all {trainable} trainable parameter tensors got a non-zero gradient{info}", TIP, **details
        )
    found = []
    if missing:
        found.append(f"no gradient at all: {_names(missing)}")
    if zero:
        found.append(f"gradient zero everywhere: {_names(zero)}")
    return failed(
        GATE,
        len(missing) + len(zero),
        0,
        f"{len(missing) + len(zero)} of {trainable} trainable parameter tensors will never learn "
        f"({'; '.join(found)}){info}. Likely causes: a submodule whose output is `.detach()`ed or "
        "computed under torch.no_grad(), a layer built but never used in forward, an output multiplied "
        "by zero, a dead activation (all ReLU inputs negative). Freeze parameters you mean to keep "
        "fixed (requires_grad_(False)). <gates.params_learn.waive=...>",
        TIP,
        **details,
    )


def _still_zero_after_a_step(probe: nn.Module, zero: list[str], loss_of: Callable[[nn.Module], Any]) -> list[str]:
    """Of the parameters with a zero gradient, those still at zero after one small step of the others: a
    factor that starts at zero (LoRA's B, a zero-initialised residual branch) gives its partner no gradient
    at init, and one as soon as it moves; a detached or unused parameter stays at zero."""
    if not zero:
        return zero
    with torch.no_grad():
        for p in probe.parameters():
            if p.grad is not None:
                p.add_(p.grad, alpha=-1e-2)
    probe.zero_grad(set_to_none=True)
    loss_of(probe).backward()
    grads = {name: p.grad for name, p in probe.named_parameters()}
    return [name for name in zero if grads[name] is None or not bool(grads[name].any())]


def _names(names: list[str]) -> str:
    return ", ".join(names[:_LISTED]) + (f" (+{len(names) - _LISTED} more)" if len(names) > _LISTED else "")


GATE = Gate(
    name="params_learn",
    stage="sanity",
    settings=ParamsLearnSettings,
    tip=TIP,
    what="every trainable parameter gets a non-zero, finite gradient",
    checks=(every_param_learns,),
    after=("padding_ignored",),
)
