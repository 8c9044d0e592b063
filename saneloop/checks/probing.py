"""Shared by the probing gates: which items to probe (`spread`) and, for the backprop-dependency gates
(batch_independence, causality), a safe copy of the model run on a differentiable view of its input,
even when the input is integer tokens (`probed_forward`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..data.batch import Batch, BatchFormat
from .verdict import Verdict, failed

# Layers that mix samples (BatchNorm in training mode) or draw noise (Dropout) on purpose: the
# dependency probes run them in eval mode, so they neither raise false alarms nor hide a real mix.
_EVAL_ONLY = {"BatchNorm": nn.modules.batchnorm._BatchNorm, "Dropout": nn.modules.dropout._DropoutNd}


def spread(length: int, count: int) -> list[int]:
    """`count` indices spread evenly over range(length), first and last included; all when count >= length
    or count <= 0."""
    if count <= 0 or count >= length:
        return list(range(length))
    return sorted({round(k * (length - 1) / max(count - 1, 1)) for k in range(count)})


@dataclass
class Probed:
    """One forward pass of a probe copy: the tensor gradients are taken to, the outputs shaped [B, ...]."""

    leaf: Optional[torch.Tensor]  # None: integer inputs never became a float tensor shaped [B, ...]
    outputs: list[torch.Tensor]
    where: str  # where the leaf is, for messages ("the input", "the output of `tokens` (Embedding) ...")
    note: str  # which layers ran in eval mode, for messages
    returned: str  # the type of what the model returned, for messages


def as_batch(inputs: Any, targets: Any = None) -> Batch:
    """A `Batch` from what a user passes a check: a Batch, one input tensor, a tuple of positional inputs,
    or a dict of keyword inputs."""
    if isinstance(inputs, Batch):
        return inputs
    if isinstance(inputs, torch.Tensor):
        return Batch((inputs,), {}, targets)
    if isinstance(inputs, dict):
        return Batch((), dict(inputs), targets)
    if isinstance(inputs, (tuple, list)):
        return Batch(tuple(inputs), {}, targets)
    raise TypeError(f"cannot probe inputs of type {type(inputs).__name__}; pass a tensor, a tuple, a dict or a Batch")


def batches(source: Any) -> list[Batch]:
    """Batches from an iterable of `Batch`es, (input, target) pairs or dicts (a DataLoader, a list)."""
    fmt = BatchFormat()
    return [item if isinstance(item, Batch) else fmt.split(item) for item in source]


def probed_forward(model: nn.Module, inputs: Any) -> Probed:
    """Run a probe copy of `model` (see `probe_copy`) on a differentiable view of `inputs` (a tensor or a Batch)."""
    batch = as_batch(inputs)
    probe, note = probe_copy(model)
    with differentiable_input(probe, batch) as (fed, holder):
        output = fed.forward(probe)
    return Probed(holder["leaf"], batch_tensors(output, len(batch)), holder["where"], note, type(output).__name__)


def probe_copy(model: nn.Module) -> tuple[nn.Module, str]:
    """A deep copy in training mode, with BatchNorm and Dropout layers in eval mode.

    Training mode for the rest, because bugs often live on the training path (`if self.training`).
    Returns the copy and a note saying which layers were switched, for the gate's message.
    """
    probe = copy.deepcopy(model).train()
    counts = {name: 0 for name in _EVAL_ONLY}
    for module in probe.modules():
        for name, kind in _EVAL_ONLY.items():
            if isinstance(module, kind):
                module.eval()
                counts[name] += 1
    switched = [f"{n} {name}" for name, n in counts.items() if n]
    note = f"; ran with {' and '.join(switched)} layer(s) in eval mode" if switched else ""
    return probe, note


@contextmanager
def differentiable_input(model: nn.Module, batch: Batch) -> Iterator[tuple[Batch, dict[str, Any]]]:
    """Yield (the batch to feed the model, a holder whose "leaf" is the tensor to take gradients to).

    The first float input shaped [B, ...] is its own leaf. Integer inputs (token ids) have no
    gradient, so the leaf is then the first float tensor shaped [B, ...] that a submodule returns (an
    embedding's output), captured by a forward hook and made a leaf there. `holder["where"]` names it.
    """
    holder: dict[str, Any] = {"leaf": None, "where": "the input"}
    size = len(batch)
    name = next(
        (n for n, t in batch.named_inputs() if t.is_floating_point() and t.dim() >= 1 and t.shape[0] == size), None
    )
    if name is not None:

        def leaf(key: str, tensor: torch.Tensor) -> torch.Tensor:
            if key != name:
                return tensor
            holder["leaf"] = tensor.detach().clone().requires_grad_(True)
            return holder["leaf"]

        fed = batch.map_inputs(leaf)
        holder["where"] = "the input" if name == "0" else f"input `{name}`"
        yield fed, holder
        return
    handles = [
        module.register_forward_hook(_capture(holder, name, size))
        for name, module in model.named_modules()
        if module is not model
    ]
    try:
        yield batch, holder
    finally:
        for handle in handles:
            handle.remove()


def _capture(holder: dict[str, Any], name: str, batch: int):
    def hook(module: nn.Module, args: Any, output: Any) -> Optional[torch.Tensor]:
        if (
            holder["leaf"] is None
            and isinstance(output, torch.Tensor)
            and output.is_floating_point()
            and output.dim() >= 1
            and output.shape[0] == batch
        ):
            holder["leaf"] = output.detach().requires_grad_(True)
            holder["where"] = f"the output of `{name}` ({type(module).__name__}), the first float tensor"
            return holder["leaf"]
        return None

    return hook


def batch_tensors(output: Any, batch: int) -> list[torch.Tensor]:
    """Every float tensor in the model's output (a tensor, tuple, list or dict) shaped [B, ...]."""
    if isinstance(output, torch.Tensor):
        return [output] if output.is_floating_point() and output.dim() >= 1 and output.shape[0] == batch else []
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in batch_tensors(item, batch)]
    return []


def projection(outputs: list[torch.Tensor], seed: int = 0) -> list[torch.Tensor]:
    """Fixed random weights, one per output element (without the batch axis).

    The recipe sums the outputs; a random weighting is the same test without the blind spot of a
    plain sum: a softmax (or a normalisation) makes the sum of a row constant, whose gradient is 0.
    """
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(tuple(o.shape[1:]), generator=gen).to(o.device, o.dtype) for o in outputs]


def grad_of(scalar: torch.Tensor, leaf: torch.Tensor) -> torch.Tensor:
    """d scalar / d leaf, zeros where the scalar does not depend on the leaf at all."""
    if not scalar.requires_grad:
        return torch.zeros_like(leaf)
    (grad,) = torch.autograd.grad(scalar, leaf, retain_graph=True, allow_unused=True)
    return torch.zeros_like(leaf) if grad is None else grad


def nonfinite_gradients(gate: str, where: str, note: str, tip: str, details: dict) -> Verdict:
    """The verdict of a backprop probe whose gradients hold NaN or Inf: the outputs are not finite."""
    return failed(
        gate,
        float("nan"),
        "finite",
        f"backprop gave NaN/Inf gradients at {where}{note}: the outputs "
        "are not finite for real inputs. Likely causes: an attention row with every position masked "
        "(softmax of all -inf), a log or division by zero in forward.",
        tip,
        **details,
    )
