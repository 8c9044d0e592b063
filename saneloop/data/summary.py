"""One pass over a dataset: its targets stacked, and which samples hold NaN or Inf."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch.utils.data import Dataset, TensorDataset

from ..errors import InputError
from .batch import BatchFormat
from .padding import IGNORE_INDEX, stack_padded


@dataclass
class DatasetSummary:
    length: int
    targets: torch.Tensor
    nonfinite: list[int]  # indices of samples whose input or target holds NaN/Inf
    input_shapes: set[tuple[int, ...]]  # shapes of the main input (the first input tensor) of each item


def summarize(
    dataset: Dataset,
    split: str,
    fmt: BatchFormat = BatchFormat(),
    collate: Optional[Callable[[list[Any]], Any]] = None,
    pad_value: int = IGNORE_INDEX,
) -> DatasetSummary:
    """Read every item once (vectorised for a TensorDataset of pairs) and refuse malformed items clearly.

    With the run's `collate` (a padding collator), items are read as it batches them; integer targets
    of different lengths are padded with `pad_value` (the task's ignore index: they count nowhere)."""
    try:
        length = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise InputError(f"the {split} dataset has no len(); saneloop needs a map-style Dataset") from None
    if length == 0:
        raise InputError(f"the {split} dataset is empty; check data._target_ and its arguments")
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        return _summarize_tensors(*dataset.tensors)
    if collate is not None:
        from .collated_summary import summarize_collated

        return summarize_collated(dataset, split, collate, fmt, pad_value)
    inputs, targets = [], []
    for i in range(length):
        args, kwargs, target = fmt.split_item(dataset[i], f"{split} item {i}")
        inputs.append([torch.as_tensor(v) for v in (*args, *kwargs.values()) if _tensor_like(v)])
        targets.append(torch.as_tensor(target))
    shapes = {tuple(x[0].shape) for x in inputs if x}
    nonfinite = [i for i, (x, y) in enumerate(zip(inputs, targets)) if not (all(map(_finite, x)) and _finite(y))]
    return DatasetSummary(length, _stack_targets(targets, split, pad_value), nonfinite, shapes)


def _summarize_tensors(inputs: torch.Tensor, targets: torch.Tensor) -> DatasetSummary:
    bad = ~_finite_rows(inputs) | ~_finite_rows(targets)
    return DatasetSummary(len(inputs), targets, bad.nonzero().flatten().tolist(), {tuple(inputs.shape[1:])})


def _tensor_like(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, int, float, bool)) or hasattr(value, "__array__")


def _stack_targets(targets: list[torch.Tensor], split: str, pad_value: int = IGNORE_INDEX) -> torch.Tensor:
    try:
        return torch.stack(targets)
    except RuntimeError as err:
        if all(t.dim() == 1 and not t.is_floating_point() for t in targets):  # token labels of any length
            return stack_padded(targets, pad_value)
        raise InputError(f"{split} targets have varying shapes and cannot be batched: {err}") from None


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t).all()) if t.is_floating_point() else True


def _finite_rows(t: torch.Tensor) -> torch.Tensor:
    if not t.is_floating_point():
        return torch.ones(len(t), dtype=torch.bool)
    return torch.isfinite(t.reshape(len(t), -1)).all(1)
