"""Two copies of a model trained on the same batches (the same Dropout draws), one of them fed what `zero`
makes of each batch, and scored example by example on held-out batches: what the `input_independent` gate
measures.

The copies take turns, so that never two trainable copies with optimizer state are resident at once (issue
21: in lockstep they held twice a training loop's memory). The real-input copy trains a stretch (up to the
next comparison) on the batches as they come, while each step's zeroed batch (zeros kept as one expanded
zero: targets, masks and token ids are what it holds) and the random state before the step are recorded;
then it is parked off the device (measure/parking.py) and the zeroed copy replays the stretch from the same
random states: the same batches and Dropout draws, step for step, as two copies in lockstep.
"""

from __future__ import annotations

import copy
import gc
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from ...data.batch import Batch
from ...models.forward import ModelOutputs, forward
from .fitting import LossFn, OptimizerFactory, step, trainable, with_lr
from .parking import Parked
from .per_example import ExampleLoss

ORDERS = 4  # random orders of the held-out targets that the real copy's outputs are also scored against
TURN_BYTES = 256 * 2**20  # a turn ends early once the zeroed batches it recorded hold this much


@dataclass
class PairScores:
    real: torch.Tensor  # per held-out example
    zeroed: torch.Tensor
    # The real-input copy's outputs scored against the targets of other held-out examples: what its
    # predictions are worth when they have nothing to do with the example (its overall rate, its scale).
    unpaired: torch.Tensor
    # Per held-out example and output [n, k], real and zeroed copies: for a task of several outputs.
    columns: Optional[tuple[torch.Tensor, torch.Tensor]] = None


RandomState = tuple[torch.Tensor, Optional[list[torch.Tensor]]]


def random_state() -> RandomState:
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    return torch.get_rng_state(), (torch.cuda.get_rng_state_all() if cuda else None)


def restore(state: RandomState) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


@dataclass
class Stretch:
    """What the zeroed copy replays: each step's zeroed batch (on the CPU, compacted), the device it trained
    on, and the random state before the step; and the random state the real copy's turn ended with."""

    steps: list[tuple[Batch, torch.device, RandomState]] = field(default_factory=list)
    nbytes: int = 0
    end: Optional[RandomState] = None

    def add(self, zeroed: Batch, state: RandomState) -> None:
        where = next((t.device for _, t in zeroed.named_inputs()), torch.device("cpu"))
        kept = compacted(zeroed.to("cpu"))
        self.steps.append((kept, where, state))
        self.nbytes += _nbytes(kept)


def compacted(batch: Batch) -> Batch:
    """The batch with each all-zero input kept as one zero expanded to its shape: no memory."""
    return batch.map_inputs(lambda _, t: t.new_zeros(()).expand(t.shape) if not t.any() else t)


def _materialised(batch: Batch, device: torch.device) -> Batch:
    return batch.map_inputs(lambda _, t: t.contiguous()).to(device)


def _nbytes(batch: Batch) -> int:
    tensors = [t for _, t in batch.named_inputs()]
    targets = batch.targets.values() if isinstance(batch.targets, dict) else [batch.targets]
    tensors += [t for t in targets if isinstance(t, torch.Tensor)]
    return sum(t.untyped_storage().nbytes() for t in tensors)


class CopyPair:
    """The two copies, their optimizers and the per-step training losses of the real-input copy. The zeroed
    copy is made (from `model`, which stays as it was) at its first turn; `zero_copy`, if given, is applied
    to it once (e.g. its token embedding's output zeroed)."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        lr: Optional[float],
        outputs: ModelOutputs,
        zero_copy: Optional[Callable[[nn.Module], Any]] = None,
    ) -> None:
        self.model, self.zero_copy, self.outputs = model, zero_copy, outputs
        self.make = with_lr(optimizer, lr)
        self.real = copy.deepcopy(model)
        self.opt_real = self.make(trainable(self.real))
        self.zeroed: Optional[nn.Module] = None
        self.opt_zeroed: Optional[torch.optim.Optimizer] = None
        self.parked = {"real": Parked(self.real, self.opt_real, model)}
        self.zeroed_trained = False
        self.losses: list[float] = []
        self.steps = 0

    def _zeroed_copy(self) -> nn.Module:
        """The zeroed copy, made from the untouched model the first time it is asked for."""
        if self.zeroed is None:
            self.zeroed = copy.deepcopy(self.model)
            if self.zero_copy is not None:
                self.zero_copy(self.zeroed)  # for the copy's lifetime: it is never handed back
            self.opt_zeroed = self.make(trainable(self.zeroed))
            self.parked["zeroed"] = Parked(self.zeroed, self.opt_zeroed)
        return self.zeroed

    def _turn(self, name: str) -> nn.Module:
        """Make `name`'s copy resident, the other one parked."""
        other = "zeroed" if name == "real" else "real"
        if other == "zeroed" and self.zeroed is not None and not self.zeroed_trained:
            self.zeroed = self.opt_zeroed = None  # untrained: made again from the model when asked for
            del self.parked["zeroed"]
        elif other in self.parked:
            self.parked[other].park()
        model = self.real if name == "real" else self._zeroed_copy()
        self.parked[name].unpark()
        return model

    def train(self, batches: Iterator[Batch], count: int, loss_fn: LossFn, zero, device) -> None:
        """`count` paired steps (fewer if `batches` runs out), in turns of the real copy then the zeroed one."""
        while count > 0:
            stretch = self._real_turn(batches, count, loss_fn, zero, device)
            if not stretch.steps:
                return
            self._zeroed_turn(stretch, loss_fn)
            self.steps += len(stretch.steps)
            count -= len(stretch.steps)

    def _real_turn(self, batches: Iterator[Batch], count: int, loss_fn: LossFn, zero, device) -> Stretch:
        real, stretch = self._turn("real"), Stretch()
        real.train()
        self.parked["real"].fresh = False
        for batch in itertools.islice(batches, count):
            batch = batch if device is None else batch.to(device)
            state = random_state()
            self.losses.append(step(real, self.opt_real, loss_fn, batch, self.outputs))
            stretch.add(zero(batch), state)
            if stretch.nbytes >= TURN_BYTES:
                break
        stretch.end = random_state()
        return stretch

    def _zeroed_turn(self, stretch: Stretch, loss_fn: LossFn) -> None:
        zeroed = self._turn("zeroed")
        zeroed.train()
        self.zeroed_trained = True
        assert self.opt_zeroed is not None
        for batch, where, state in stretch.steps:
            restore(state)
            step(zeroed, self.opt_zeroed, loss_fn, _materialised(batch, where), self.outputs)
        assert stretch.end is not None
        restore(stretch.end)  # as after the real copy's turn: the draws go on from there

    @torch.no_grad()
    def score(self, held_out: list[Batch], per_example: ExampleLoss, zero) -> PairScores:
        """Both copies' per-example losses on `held_out`, the resident one first."""
        zeroed_first = self.zeroed is not None and not self.parked["zeroed"].parked and self.parked["real"].parked
        if zeroed_first:
            zeroed = self._score_zeroed(held_out, per_example, zero)
            real, unpaired, columns = self._score_real(held_out, per_example)
        else:
            real, unpaired, columns = self._score_real(held_out, per_example)
            zeroed = self._score_zeroed(held_out, per_example, zero)
        both = None
        if columns and all(c is not None for c in columns + zeroed[1]):
            both = (torch.cat(columns), torch.cat(zeroed[1]))  # type: ignore[arg-type]
        return PairScores(torch.cat(real), torch.cat(zeroed[0]), torch.cat(unpaired), both)

    def _score_real(self, held_out: list[Batch], per_example: ExampleLoss):
        real_model = self._turn("real")
        real_model.eval()
        real, unpaired, columns = [], [], []
        for k, b in enumerate(held_out):
            output = forward(real_model, b, self.outputs)
            real.append(per_example(output, b.targets, len(b)))
            columns.append(per_example.columns(output, b.targets))
            orders = [
                torch.randperm(len(b), generator=torch.Generator().manual_seed(k * 97 + j)) for j in range(ORDERS)
            ]
            scores = [per_example(output, _reordered(b.targets, order), len(b)) for order in orders]
            unpaired.append(torch.stack(scores).mean(0))  # several orders: less noise from which example it met
        return real, unpaired, columns

    def _score_zeroed(self, held_out: list[Batch], per_example: ExampleLoss, zero):
        zeroed_model = self._turn("zeroed")
        zeroed_model.eval()
        zeroed, columns = [], []
        for b in held_out:
            output = forward(zeroed_model, zero(b), self.outputs)
            zeroed.append(per_example(output, b.targets, len(b)))
            columns.append(per_example.columns(output, b.targets))
        return zeroed, columns

    def close(self) -> None:
        """Free both copies, their optimizer state and any parked file."""
        for parked in self.parked.values():
            parked.discard()
        self.parked.clear()
        self.real = self.zeroed = self.opt_real = self.opt_zeroed = None  # type: ignore[assignment]
        gc.collect()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.empty_cache()


def _reordered(targets: Any, order: torch.Tensor) -> Any:
    """The batch's targets in a fixed random order (not a shift: a test set sorted by class would pair
    neighbours of the same class), so each output meets another example's target."""
    if isinstance(targets, torch.Tensor) and targets.dim() >= 1 and len(targets) == len(order):
        return targets[order.to(targets.device)]
    if isinstance(targets, dict):
        return {key: _reordered(value, order) for key, value in targets.items()}
    return targets
