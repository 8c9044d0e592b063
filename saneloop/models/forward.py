"""How saneloop runs any model on a batch and reads what it returns: the logits, and (where asked for) its
own loss. The loop, the stages and every gate that runs a model go through here, so they all call it the
same way; the batch only holds the data.

A model may return a tensor (the logits), a dict, or an object holding the logits under a key or
attribute (a Hugging Face `ModelOutput` is both: `out["logits"]`, `out.logits`). `ModelOutputs` says
where (`model_output.logits_key`, default `logits`), and whether the run trains on the model's own loss
(`model_output.model_loss`, under `model_output.loss_key`). A tuple or list is handed on as it is: the
task's `output_problem` says what it expected instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..data.batch import Batch
from ..errors import InputError

LossFn = Callable[[Any, Any], torch.Tensor]


@dataclass(frozen=True)
class ModelOutputs:
    """How the model's output is read (`model_output.*`): where its logits are, where its own loss is, and
    whether the run trains on that loss (computed by the model from the labels it is given)."""

    logits_key: str = "logits"
    loss_key: str = "loss"
    model_loss: bool = False


DEFAULT_OUTPUTS = ModelOutputs()


def call(model: Callable[..., Any], batch: Batch, **extra: Any) -> Any:
    """What the model returns for `batch`, untouched (`extra`: more keyword inputs, e.g. the labels)."""
    if not batch.kwargs and not extra:
        return model(*batch.inputs)  # no empty-dict unpack on the hot path
    return model(*batch.inputs, **batch.kwargs, **extra)


def forward(model: Callable[..., Any], batch: Batch, outputs: ModelOutputs = DEFAULT_OUTPUTS) -> Any:
    """The model's logits for `batch` (a tensor output as it is, else the one under `outputs.logits_key`)."""
    return logits_of(call(model, batch), outputs.logits_key)


def training_loss(model: Callable[..., Any], batch: Batch, loss_fn: LossFn, outputs: ModelOutputs) -> torch.Tensor:
    """The loss the train stage steps on: the task's from the logits, or with `outputs.model_loss` the
    model's own, computed by the model from the labels it is given."""
    if not outputs.model_loss:
        return loss_fn(forward(model, batch, outputs), batch.targets)
    return loss_of(call(model, batch, **batch.label_kwargs()), outputs.loss_key)


def model_and_task_loss(
    model: Callable[..., Any], batch: Batch, loss_fn: LossFn, outputs: ModelOutputs = DEFAULT_OUTPUTS
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward given the labels: (the model's own loss, the task's loss on the same logits)."""
    output = call(model, batch, **batch.label_kwargs())
    return loss_of(output, outputs.loss_key), loss_fn(logits_of(output, outputs.logits_key), batch.targets)


def logits_of(output: Any, key: str = "logits") -> Any:
    """The logits inside `output`; an InputError naming the key and the fix when they are not there."""
    if isinstance(output, torch.Tensor) or isinstance(output, (tuple, list)):
        return output
    found = _lookup(output, key)
    if found is None:
        raise InputError(
            f"the model returned {_describe(output)} with no logits under {key!r}; name the key that holds "
            f"them with model_output.logits_key=<key> (now {key!r}), or return the logits tensor itself"
        )
    return found


def loss_of(output: Any, key: str = "loss") -> torch.Tensor:
    """The model's own loss inside `output` (model_output.model_loss=true); an InputError when absent."""
    found = _lookup(output, key) if not isinstance(output, (torch.Tensor, tuple, list)) else None
    if not isinstance(found, torch.Tensor) or found.dim() != 0:
        raise InputError(
            f"model_output.model_loss=true, but called with the labels the model returned {_describe(output)} "
            f"with no scalar loss under {key!r}; name it with model_output.loss_key=<key>, make forward "
            "compute it from `labels`, or set model_output.model_loss=false (saneloop computes the task's loss)"
        )
    return found


def _lookup(output: Any, key: str) -> Any:
    if isinstance(output, Mapping):
        return output.get(key)
    return getattr(output, key, None)


def _describe(output: Any) -> str:
    if isinstance(output, Mapping):
        return f"a {type(output).__name__} with keys {sorted(k for k, v in output.items() if v is not None)}"
    return f"a {type(output).__name__}"
