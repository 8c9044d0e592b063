"""Gate `last_batch`: the training loader's last batch of an epoch is one the model can train on.

With `drop_last=False` (the default), n training items in batches of b end every epoch with a batch of
n mod b. A batch of one breaks a model that needs batch statistics: BatchNorm in training mode raises
"Expected more than 1 value per channel" - at the end of epoch 1, after every gate has passed and the
first epoch's time is spent (or in `determinism`'s short run, when it reaches that batch). The gate runs a
copy forward and backward on a batch of that size before any training step, and names `drop_last` as the fix.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data.batch import Batch
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .base.gate import Gate
from .base.settings import GateSettings
from .base.verdict import Verdict, failed, passed
from .measure.probing import as_batch

TIP = "data checks (recipe step 1: become one with the data): every batch the loop meets can train"

LossFn = Callable[[Any, torch.Tensor], torch.Tensor]


@dataclass
class LastBatchSettings(GateSettings):
    pass


def last_batch_size(items: int, batch_size: int, drop_last: bool = False) -> int:
    """The size of an epoch's last, partial batch (0: every batch is full, or the partial one is dropped)."""
    return 0 if drop_last else items % batch_size


def last_batch_trains(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    items: int,
    batch_size: int,
    drop_last: bool = False,
    *,
    targets: Any = None,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """A copy of `model` in training mode, forward and backward on the first rows of a real training batch
    (`inputs` a Batch, a tensor, a tuple or a dict, with `targets`), as many as the epoch's last batch holds
    of `items` in batches of `batch_size`. Usable on its own:
    `last_batch_trains(model, F.cross_entropy, x, len(train_set), 64, targets=y).passed`."""
    batch, size = as_batch(inputs, targets), last_batch_size(items, batch_size, drop_last)
    shape = f"{items} training items in batches of {batch_size}"
    if size == 0:
        why = "the partial last batch is dropped <loader.train.drop_last=true>" if drop_last else "every batch is full"
        return passed(GATE, 0, 0, f"{shape}: {why}", TIP)
    if len(batch) < size:
        return passed(
            GATE, size, size, f"{shape} end each epoch with {size}: larger than a probe batch, not tried", TIP
        )
    try:
        _train_on(copy.deepcopy(model), loss_fn, batch.select(slice(0, size)), outputs)
    except Exception as error:  # noqa: BLE001 - whatever the model raises on that batch is the finding
        return failed(
            GATE,
            size,
            "a batch the model can train on",
            f"{shape} end each epoch with a batch of {size}, and the model fails on it in training mode: "
            f"{type(error).__name__}: {error}. Likely causes: BatchNorm (batch statistics need more than one "
            "sample), a squeeze() that drops the batch dimension. Fix: loader.train.drop_last=true, or a batch "
            f"size that divides the training set <loader.train.batch_size={batch_size}>",
            TIP,
        )
    return passed(GATE, size, size, f"{shape} end each epoch with a batch of {size}; the model trains on it", TIP)


def _train_on(model: nn.Module, loss_fn: LossFn, batch: Batch, outputs: ModelOutputs) -> None:
    """Forward and backward in training mode; the global random state is left as it was (Dropout draws)."""
    model.train()
    with torch.random.fork_rng(devices=[]):
        loss_fn(forward(model, batch, outputs), batch.targets).backward()


GATE = Gate(
    name="last_batch",
    stage="setup",
    settings=LastBatchSettings,
    tip=TIP,
    what="the epoch's last, partial training batch is one the model can train on (a batch of one breaks BatchNorm)",
    checks=(last_batch_trains,),
)
