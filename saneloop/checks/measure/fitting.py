"""The few loops the measuring checks share: a short bare training run, a no-grad pass, a mean loss.

A check that trains (input_independent, capacity) trains a copy, on batches it is given, with an
optimizer it is given, and leaves the caller's model and global random state as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Optional

import torch
from torch import nn

from ...data.batch import Batch
from ...models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from . import budget
from .probing import batches as as_batches

LossFn = Callable[[Any, Any], torch.Tensor]
OptimizerFactory = Callable[[list[nn.Parameter]], torch.optim.Optimizer]


def default_optimizer(params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """What a check trains with when the caller names none: AdamW at 1e-3, the recipes' default."""
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)


def with_lr(factory: OptimizerFactory, lr: Optional[float]) -> OptimizerFactory:
    """`factory` with its learning rate replaced (a gate's own `lr` setting), or as it is."""
    return factory if lr is None else partial(_at_lr, factory, lr)


def _at_lr(factory: OptimizerFactory, lr: float, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    optimizer = factory(params)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return optimizer


@contextmanager
def same_draws(seed: int) -> Iterator[None]:
    """Run a block from a fixed torch seed (e.g. the same Dropout draws for two copies), then give the
    caller's random state back."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextmanager
def paired_draws() -> Iterator[Callable[[], None]]:
    """Two steps that draw the same random numbers (e.g. the same Dropout masks for two copies of a
    model): call the yielded `again()` between them to rewind torch's random state."""
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    cpu_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if cuda else None

    def again() -> None:
        torch.set_rng_state(cpu_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)

    yield again


def cycled(source: Iterable[Any], steps: int) -> Iterator[Batch]:
    """`steps` batches from `source`, starting over when it runs out (an empty source gives none)."""
    done = 0
    while done < steps:
        empty = True
        for batch in each(source):
            empty = False
            yield batch
            done += 1
            if done == steps:
                return
        if empty:
            return


def train_steps(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    source: Iterable[Any],
    steps: int,
    device: Optional[torch.device] = None,
    transform: Callable[[Batch], Batch] = lambda b: b,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> list[float]:
    """A bare loop (zero_grad, forward, backward, step) for `steps` batches; the loss of each step."""
    model.train()
    return [
        step(model, optimizer, loss_fn, transform(batch if device is None else batch.to(device)), outputs)
        for batch in cycled(source, steps)
    ]


def step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    batch: Batch,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> float:
    """One optimizer step on one batch; its loss (the task's, on the logits `outputs` reads). Raises
    `budget.OutOfBudget` first when the running gate has spent its time allowance (measure/budget.py)."""
    budget.check()
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(forward(model, batch, outputs), batch.targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def trainable(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def each(source: Iterable[Any]) -> Iterator[Batch]:
    """The items of `source` as `Batch`es ((input, target) pairs and dicts are split as a run splits them)."""
    for item in source:
        yield item if isinstance(item, Batch) else as_batches([item])[0]
