"""Shared by the probing gates: which items to probe (`spread`) and, for the backprop-dependency gates
(batch_independence, causality, padding_ignored), a safe copy of the model run on a differentiable
view of its inputs, even when they are integer tokens (`probed_forward`).

Every float input shaped [B, ...] is a leaf (a model may take several). Token ids have no gradient, so
the leaf is the token embedding's output: `get_input_embeddings()` (Hugging Face) or the first
`nn.Embedding`, else the first float [B, ...] tensor a submodule returns. With a padding mask
(`data.mask_key`), padded positions are neither outputs nor dependencies: a probe changes content
(a gradient), never a sample's length, so the batch keeps its padded shape.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ...data.batch import Batch, BatchFormat
from ...models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from ..base.verdict import Verdict, failed

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
    """One forward pass of a probe copy: the tensors gradients are taken to, the outputs shaped [B, ...]."""

    leaves: list[torch.Tensor]  # empty: integer inputs never became a float tensor shaped [B, ...]
    outputs: list[torch.Tensor]
    where: str  # where the leaves are, for messages ("the input", "the output of `tokens` (Embedding) ...")
    note: str  # which layers ran in eval mode, for messages
    returned: str  # the type of what the model returned, for messages
    mask: Optional[torch.Tensor] = None  # [B, T] True at real positions, when the batch is padded

    @property
    def leaf(self) -> Optional[torch.Tensor]:
        return self.leaves[0] if self.leaves else None

    def real(self, tensor: torch.Tensor) -> Optional[torch.Tensor]:
        """The mask broadcast over `tensor` [B, T, ...] when its first two dims are the mask's, else None."""
        if self.mask is None or tensor.dim() < 2 or tuple(tensor.shape[:2]) != tuple(self.mask.shape):
            return None
        return self.mask.reshape(*self.mask.shape, *([1] * (tensor.dim() - 2))).expand_as(tensor)

    def projected(self, output: torch.Tensor, weight: torch.Tensor, rows: Any = slice(None)) -> torch.Tensor:
        """sum(output[rows] * weight) over real positions only (padded ones, even NaN, add nothing)."""
        value = output[rows] * weight
        real = self.real(output)
        return (value if real is None else torch.where(real[rows], value, torch.zeros_like(value))).sum()

    def per_sample(self, scalar: torch.Tensor) -> torch.Tensor:
        """|d scalar / d leaves| at real positions, summed per sample over every leaf: [B]."""
        grads = grads_of(scalar, self.leaves)
        return sum(self.masked(g).abs().reshape(len(g), -1).sum(1).float().cpu() for g in grads)

    def masked(self, grad: torch.Tensor) -> torch.Tensor:
        real = self.real(grad)
        return grad if real is None else torch.where(real, grad, torch.zeros_like(grad))


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


def probed_forward(model: nn.Module, inputs: Any, outputs: ModelOutputs = DEFAULT_OUTPUTS) -> Probed:
    """Run a probe copy of `model` (see `probe_copy`) on a differentiable view of `inputs` (a tensor or a Batch)."""
    batch = as_batch(inputs)
    probe, note = probe_copy(model)
    with differentiable_input(probe, batch) as (fed, holder):
        output = forward(probe, fed, outputs)
    mask = batch.padding_mask
    return Probed(
        holder["leaves"], batch_tensors(output, len(batch)), holder["where"], note, type(output).__name__, mask
    )


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
    """Yield (the batch to feed the model, a holder whose "leaves" are the tensors to take gradients to).

    Every float input shaped [B, ...] is its own leaf. Integer inputs (token ids) have no gradient,
    so the leaf is then the token embedding's output (`input_embedding`), or without one the first
    float tensor shaped [B, ...] that a submodule returns, captured by a forward hook and made a leaf
    there. `holder["where"]` names it.
    """
    holder: dict[str, Any] = {"leaves": [], "where": "the input"}
    size = len(batch)
    mask_key = batch.format.mask_key
    names = [
        n
        for n, t in batch.named_inputs()
        if n != mask_key and t.is_floating_point() and t.dim() >= 1 and t.shape[0] == size
    ]
    if names:

        def leaf(key: str, tensor: torch.Tensor) -> torch.Tensor:
            if key not in names:
                return tensor
            holder["leaves"].append(tensor.detach().clone().requires_grad_(True))
            return holder["leaves"][-1]

        fed = batch.map_inputs(leaf)
        shown = ", ".join("the input" if n == "0" and len(names) == 1 else f"`{n}`" for n in names)
        holder["where"] = shown if names == ["0"] else f"input{'s' if len(names) > 1 else ''} {shown}"
        yield fed, holder
        return
    embedding = input_embedding(model)
    hooked = [(n, m) for n, m in model.named_modules() if m is embedding] if embedding is not None else []
    hooked = hooked or [(n, m) for n, m in model.named_modules() if m is not model]
    first = "the token embedding" if embedding is not None else "the first float tensor"
    handles = [module.register_forward_hook(_capture(holder, name, size, first)) for name, module in hooked]
    try:
        yield batch, holder
    finally:
        for handle in handles:
            handle.remove()


def _capture(holder: dict[str, Any], name: str, batch: int, what: str):
    def hook(module: nn.Module, args: Any, output: Any) -> Optional[torch.Tensor]:
        if (
            not holder["leaves"]
            and isinstance(output, torch.Tensor)
            and output.is_floating_point()
            and output.dim() >= 1
            and output.shape[0] == batch
        ):
            holder["leaves"].append(output.detach().requires_grad_(True))
            holder["where"] = f"the output of `{name}` ({type(module).__name__}), {what}"
            return holder["leaves"][0]
        return None

    return hook


def input_embedding(model: nn.Module) -> Optional[nn.Module]:
    """The module that turns token ids into vectors: `get_input_embeddings()` (Hugging Face models), else
    the first `nn.Embedding` registered; None without either."""
    getter = getattr(model, "get_input_embeddings", None)
    if callable(getter):
        try:
            found = getter()
        except (NotImplementedError, AttributeError):
            found = None
        if isinstance(found, nn.Module):
            return found
    return next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)


def zero_embedding_output(model: nn.Module) -> Optional[RemovableHandle]:
    """From now on `model`'s token embedding outputs zeros (ids, masks and positions kept): a model kept
    from its token inputs, e.g. the input-independent baseline's copy. The hook's handle (None without an
    embedding) takes it off again."""
    embedding = input_embedding(model)
    return embedding.register_forward_hook(lambda m, a, out: torch.zeros_like(out)) if embedding else None


@contextmanager
def zeroed_embedding(model: nn.Module) -> Iterator[None]:
    """Forward passes inside see the token embedding's output as zeros (ids, masks and positions kept)."""
    handle = zero_embedding_output(model)
    try:
        yield
    finally:
        if handle is not None:
            handle.remove()


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


def grads_of(scalar: torch.Tensor, leaves: list[torch.Tensor]) -> list[torch.Tensor]:
    """d scalar / d each leaf, zeros where the scalar does not depend on a leaf at all."""
    if not scalar.requires_grad:
        return [torch.zeros_like(leaf) for leaf in leaves]
    grads = torch.autograd.grad(scalar, leaves, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads)]


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
