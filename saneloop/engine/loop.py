"""The steps every stage's loop is made of: one optimizer step (bare, or through Accelerate's wrappers),
and a full-set prediction gathered from every process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data.batch import Batch
from ..data.padding import IGNORE_INDEX, cat_padded
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward, training_loss
from . import interrupts

LossFn = Callable[[Any, Any], torch.Tensor]


def needs_accelerate_wrappers(accelerator: Any) -> bool:
    """Accelerate's wrappers earn their per-step cost only with several processes, mixed precision
    or gradient accumulation; on one process in full precision a bare loop is the same computation
    (same losses, bit for bit) for less overhead."""
    return (
        accelerator.num_processes > 1
        or accelerator.mixed_precision != "no"
        or accelerator.gradient_accumulation_steps > 1
    )


def bare_step(
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    loss_fn: LossFn,
    batch: Batch,
    accelerator: Any = None,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> torch.Tensor:
    optimizer.zero_grad(set_to_none=True)
    loss = training_loss(model, batch, loss_fn, outputs)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.detach()


def accelerated_step(
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    loss_fn: LossFn,
    batch: Batch,
    accelerator: Any = None,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> torch.Tensor:
    with accelerator.accumulate(model):
        loss = training_loss(model, batch, loss_fn, outputs)
        accelerator.backward(loss)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def compiled(model: nn.Module, deterministic: bool) -> nn.Module:
    """`torch.compile(model)` for the train and evaluate steps (`train.compile=true`), sharing its
    parameters with `model`. Deterministic runs ask Inductor for its deterministic mode too.

    Probes and gates never run on the compiled module: hooks added to it after compiling are
    silently ignored (pytorch#117758); they go on `model`, whose forward stays eager.
    """
    if deterministic:
        import torch._inductor.config as inductor

        inductor.deterministic = True
    return torch.compile(model)


@torch.no_grad()
def predict_all(
    model: nn.Module,
    loader: DataLoader,
    accelerator: Any,
    ignore_index: int = IGNORE_INDEX,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> tuple[torch.Tensor, ...]:
    """Outputs, targets and dataset indices over a test loader, gathered from every process.

    `gather_for_metrics` drops the samples a distributed sampler repeats to even out the last batch.
    Sorted by dataset index, so the metrics do not depend on how many processes shared the work.
    Per-position outputs of padded batches of different lengths are padded to the longest, their
    targets with `ignore_index` (they count nowhere).

    Inside `train` (a deferred signal) it raises `interrupts.Cut` between batches once a signal asked
    the run to stop: the step's checkpoint comes within a batch, not after the whole pass.
    """
    model.eval()
    found, targets, indices = [], [], []
    for batch in loader:
        interrupts.stop_if_requested(accelerator)
        out, tgt = forward(model, batch, outputs), batch.targets
        if accelerator.num_processes > 1 and out.dim() > 2:  # processes' batches may be padded differently
            out = accelerator.pad_across_processes(out, dim=1)
            tgt = accelerator.pad_across_processes(tgt, dim=1, pad_index=ignore_index)
        out, tgt, idx = accelerator.gather_for_metrics((out, tgt, batch.indices))
        found.append(out.float().cpu())
        targets.append(tgt.cpu())
        indices.append(idx.cpu())
    if not found:
        return torch.empty(0), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long)
    order = torch.cat(indices).argsort()
    return cat_padded(found)[order], cat_padded(targets, ignore_index)[order], torch.cat(indices)[order]
