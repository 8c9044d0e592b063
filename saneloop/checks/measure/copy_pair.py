"""Two copies of a model trained in lockstep on the same batches (the same Dropout draws), one of them fed
what `zero` makes of each batch, and scored example by example on held-out batches: what the
`input_independent` gate measures."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ...data.batch import Batch
from ...models.forward import ModelOutputs, forward
from .fitting import LossFn, OptimizerFactory, paired_draws, step, trainable, with_lr
from .per_example import ExampleLoss

ORDERS = 4  # random orders of the held-out targets that the real copy's outputs are also scored against


@dataclass
class PairScores:
    real: torch.Tensor  # per held-out example
    zeroed: torch.Tensor
    # The real-input copy's outputs scored against the targets of other held-out examples: what its
    # predictions are worth when they have nothing to do with the example (its overall rate, its scale).
    unpaired: torch.Tensor
    # Per held-out example and output [n, k], real and zeroed copies: for a task of several outputs.
    columns: Optional[tuple[torch.Tensor, torch.Tensor]] = None


class CopyPair:
    """The two copies, their optimizers and the per-step training losses of the real-input copy.
    `zero_copy`, if given, is applied once to the zeroed copy (e.g. its token embedding's output zeroed)."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        lr: Optional[float],
        outputs: ModelOutputs,
        zero_copy: Optional[Callable[[nn.Module], Any]] = None,
    ) -> None:
        self.real, self.zeroed = copy.deepcopy(model), copy.deepcopy(model)
        if zero_copy is not None:
            zero_copy(self.zeroed)  # for the copy's lifetime: it is never handed back
        self.outputs = outputs
        make = with_lr(optimizer, lr)
        self.opt_real, self.opt_zeroed = make(trainable(self.real)), make(trainable(self.zeroed))
        self.losses: list[float] = []
        self.steps = 0

    def train(self, batches: Iterator[Batch], count: int, loss_fn: LossFn, zero, device) -> None:
        self.real.train()
        self.zeroed.train()
        for batch in itertools.islice(batches, count):
            batch = batch if device is None else batch.to(device)
            with paired_draws() as again:
                self.losses.append(step(self.real, self.opt_real, loss_fn, batch, self.outputs))
                again()
                step(self.zeroed, self.opt_zeroed, loss_fn, zero(batch), self.outputs)
            self.steps += 1

    @torch.no_grad()
    def score(self, held_out: list[Batch], per_example: ExampleLoss, zero) -> PairScores:
        self.real.eval()
        self.zeroed.eval()
        real, unpaired, columns = [], [], []
        for k, b in enumerate(held_out):
            output = forward(self.real, b, self.outputs)
            real.append(per_example(output, b.targets, len(b)))
            columns.append(per_example.columns(output, b.targets))
            orders = [
                torch.randperm(len(b), generator=torch.Generator().manual_seed(k * 97 + j)) for j in range(ORDERS)
            ]
            scores = [per_example(output, _reordered(b.targets, order), len(b)) for order in orders]
            unpaired.append(torch.stack(scores).mean(0))  # several orders: less noise from which example it met
        zeroed, zeroed_columns = [], []
        for b in held_out:
            output = forward(self.zeroed, zero(b), self.outputs)
            zeroed.append(per_example(output, b.targets, len(b)))
            zeroed_columns.append(per_example.columns(output, b.targets))
        both = None
        if columns and all(c is not None for c in columns + zeroed_columns):
            both = (torch.cat(columns), torch.cat(zeroed_columns))  # type: ignore[arg-type]
        return PairScores(torch.cat(real), torch.cat(zeroed), torch.cat(unpaired), both)


def _reordered(targets: Any, order: torch.Tensor) -> Any:
    """The batch's targets in a fixed random order (not a shift: a test set sorted by class would pair
    neighbours of the same class), so each output meets another example's target."""
    if isinstance(targets, torch.Tensor) and targets.dim() >= 1 and len(targets) == len(order):
        return targets[order.to(targets.device)]
    if isinstance(targets, dict):
        return {key: _reordered(value, order) for key, value in targets.items()}
    return targets
