"""What a model returns, read the way the task needs it: the logits, and (where asked for) its own loss.

A model may return a tensor (the logits), a dict, or an object holding the logits under a key or
attribute (a Hugging Face `ModelOutput` is both: `out["logits"]`, `out.logits`). The key is
`model_output.logits_key` (default `logits`). A tuple or list is handed on as it is: the task's
`output_problem` says what it expected instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..errors import InputError


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
