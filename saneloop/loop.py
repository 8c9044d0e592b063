"""The few loops every stage shares: a training step, a no-grad pass, a full-set prediction."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader

from .tasks.base import Task


def batch_loss(model: nn.Module, task: Task, batch: Any) -> torch.Tensor:
    inputs, targets = batch
    return task.loss(model(inputs), targets)


def plain_steps(model: nn.Module, optimizer: torch.optim.Optimizer, task: Task, batches: Iterable[Any],
                steps: int, device: torch.device) -> list[float]:
    """A bare loop (zero_grad, forward, backward, step) for the short probe runs of the gates."""
    model.train()
    losses: list[float] = []
    for batch in _cycle(batches, steps):
        optimizer.zero_grad(set_to_none=True)
        loss = batch_loss(model, task, to_device(batch, device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def outputs_of(model: nn.Module, batches: Iterable[Any], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Model outputs and targets over some batches, without gradients (mode left as it is)."""
    outputs, targets = [], []
    for inputs, target in (to_device(b, device) for b in batches):
        outputs.append(model(inputs))
        targets.append(target)
    return torch.cat(outputs), torch.cat(targets)


@torch.no_grad()
def predict_all(model: nn.Module, loader: DataLoader, accelerator: Any) -> tuple[torch.Tensor, ...]:
    """Outputs, targets and dataset indices over a test loader, gathered from every process.

    `gather_for_metrics` drops the samples a distributed sampler repeats to even out the last batch.
    Sorted by dataset index, so the metrics do not depend on how many processes shared the work.
    """
    model.eval()
    outputs, targets, indices = [], [], []
    for index, (inputs, target) in loader:
        out, tgt, idx = accelerator.gather_for_metrics((model(inputs), target, index))
        outputs.append(out.float().cpu())
        targets.append(tgt.cpu())
        indices.append(idx.cpu())
    if not outputs:
        return torch.empty(0), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long)
    order = torch.cat(indices).argsort()
    return torch.cat(outputs)[order], torch.cat(targets)[order], torch.cat(indices)[order]


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    return batch


def _cycle(batches: Iterable[Any], steps: int) -> Iterator[Any]:
    done = 0
    while done < steps:
        empty = True
        for batch in batches:
            empty = False
            yield batch
            done += 1
            if done == steps:
                return
        if empty:
            return
