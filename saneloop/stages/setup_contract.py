"""Refusals before training: a batch whose keys the model does not take, a model output the task cannot
read. Each message names the key and the fix (exit status 2), before any gate trains anything."""

from __future__ import annotations

import inspect
from typing import Any, Optional

import torch
from torch import nn

from ..data.batch import Batch
from ..errors import InputError


def refuse_unfit_batch(model: nn.Module, batch: Batch, model_target: str, model_loss: bool = False) -> None:
    """The batch's keyword inputs (and, for model_output.model_loss, its labels) must be forward's."""
    params = _forward_params(model)
    if params is None:  # forward(**kwargs), or a signature that cannot be read: nothing to refuse
        return
    names, required = params
    given = list(batch.kwargs)
    unknown = [k for k in given if k not in names]
    if unknown:
        raise InputError(
            f"the batch holds {_keys(unknown)} that {model_target}.forward does not take (it takes "
            f"{sorted(names)}). Drop {'them' if len(unknown) > 1 else 'it'} in the dataset or the collator, rename "
            f"{'them' if len(unknown) > 1 else 'it'} to forward's argument, or, if it is a target, list it in "
            f"data.target_keys (now {list(batch.format.target_keys)})"
        )
    missing = [k for k in required[len(batch.inputs) :] if k not in given]
    if missing:
        raise InputError(
            f"{model_target}.forward needs {_keys(missing)}, which the batch does not hold (it holds "
            f"{given or 'positional inputs only'}); make the dataset or the collator return "
            f"{'them' if len(missing) > 1 else 'it'}"
        )
    if model_loss:
        labels = [k for k in batch.label_kwargs() if k not in names]
        if labels:
            raise InputError(
                f"model_output.model_loss=true passes the targets as {_keys(labels)}, which "
                f"{model_target}.forward does not take; set model_output.model_loss=false (saneloop computes "
                "the task's loss from the logits) or name the target key forward takes in data.target_keys"
            )


def _forward_params(model: nn.Module) -> Optional[tuple[set[str], list[str]]]:
    """(every keyword forward takes, its required parameters in order), or None if it takes **kwargs."""
    try:
        signature = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return None
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        extra = _transformers_kwargs(model)
        if extra is None:
            return None
    else:
        extra = set()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = {p.name for p in params if p.kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_KEYWORD)}
    names |= extra
    required = [p.name for p in params if p.kind in positional and p.default is inspect.Parameter.empty]
    return names, required


def _transformers_kwargs(model: nn.Module) -> Optional[set[str]]:
    """A Hugging Face model's forward takes **kwargs for attention options only (TransformersKwargs): a batch
    key that is neither a named argument nor one of those is dropped without a word. None: not such a model."""
    if not any(cls.__module__.startswith("transformers.") for cls in type(model).__mro__):
        return None
    try:
        from transformers.utils.generic import TransformersKwargs
    except ImportError:
        return None
    return set(getattr(TransformersKwargs, "__annotations__", {}))


def _keys(keys: list[str]) -> str:
    return ("key " if len(keys) == 1 else "keys ") + ", ".join(repr(k) for k in keys)


def describe_output(output: Any) -> str:
    """What a model returned, for messages."""
    if isinstance(output, torch.Tensor):
        return f"a tensor {list(output.shape)}"
    return type(output).__name__
