"""Two models trained in turns on the same batches and random draws, as if in lockstep, with one resident at a time.

A gate that compares two models' training (capacity: the model and a wider or narrower one) would otherwise hold
both optimizer states at once: for a model that fills the memory, twice what training it takes. A `Learner` is
built at its first turn and parked between turns (its parameters' and optimizer's tensors in a file, freed in
memory); `Draws` gives step k of the second model the random state step k of the first started from.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from ...data.batch import Batch
from ...models.forward import ModelOutputs
from .fitting import LossFn, OptimizerFactory, step, trainable

# A model (a copy of it trains) or what builds one (the check owns what it returns: trained, parked, freed).
Source = Union[nn.Module, Callable[[], nn.Module]]


@dataclass
class Learner:
    """One model of the pair and its optimizer, built at its first turn and parked between turns (the
    parameters' and the optimizer's tensors in a file, freed in memory), so one model trains at a time."""

    source: Source
    make: OptimizerFactory
    stream: Iterator[Batch]
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    model: Optional[nn.Module] = None
    optimizer: Optional[torch.optim.Optimizer] = None
    parked: Optional[Path] = None

    def train_to(self, target: int, draws: Draws, loss_fn: LossFn, device, outputs: ModelOutputs) -> None:
        """Steps until `target` losses are recorded (or the batches run out), each from the random state of
        that step's first run (`draws`)."""
        self._resume()
        start = time.perf_counter()
        try:
            for k in range(len(self.losses), target):
                draws.at(k)
                batch = next(self.stream, None)
                if batch is None:
                    return
                batch = batch if device is None else batch.to(device)
                self.losses.append(step(self.model, self.optimizer, loss_fn, batch, outputs))
        finally:
            self.seconds += time.perf_counter() - start

    def pace(self) -> float:
        return self.seconds / len(self.losses) if self.losses else 0.0

    def _resume(self) -> None:
        if self.model is None:
            self.model = (copy.deepcopy(self.source) if isinstance(self.source, nn.Module) else self.source()).train()
            self.optimizer = self.make(trainable(self.model))
        if self.parked is not None:
            saved = torch.load(self.parked, weights_only=True)
            for name, param in self.model.named_parameters():
                param.data = saved["params"][name].to(param.device)
            self.optimizer.load_state_dict(saved["optimizer"])
            self.parked.unlink()
            self.parked = None

    def park(self, folder: Path) -> None:
        """Its parameters and optimizer state to a file and out of memory, until its next turn."""
        self.optimizer.zero_grad(set_to_none=True)
        self.parked = folder / f"{id(self)}.pt"
        params = {n: p.detach() for n, p in self.model.named_parameters()}
        torch.save({"params": params, "optimizer": self.optimizer.state_dict()}, self.parked)
        self._release()

    def drop(self) -> None:
        """Done with it: its tensors freed, even where the caller still holds the model (the losses kept)."""
        if self.model is not None:
            self.optimizer.zero_grad(set_to_none=True)
            self._release()
        self.model = self.optimizer = self.source = None

    def _release(self) -> None:
        self.optimizer.state.clear()
        for param in self.model.parameters():
            param.data = torch.empty(0, dtype=param.dtype, device=param.device)


class Draws:
    """The random state before each step, recorded by the first model to reach the step and replayed for the
    other: both draw the same Dropout masks (and augmentations) at step k, as if they trained in lockstep."""

    def __init__(self) -> None:
        self.states: list[tuple[torch.Tensor, Optional[list[torch.Tensor]]]] = []

    def at(self, k: int) -> None:
        cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
        if k < len(self.states):
            torch.set_rng_state(self.states[k][0])
            if cuda and self.states[k][1] is not None:
                torch.cuda.set_rng_state_all(self.states[k][1])
        else:
            self.states.append((torch.get_rng_state(), torch.cuda.get_rng_state_all() if cuda else None))
