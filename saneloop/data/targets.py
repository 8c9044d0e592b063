"""A dataset's targets, read without decoding its inputs where the dataset allows it.

The task needs every training target before the first step (the class prior sets the final bias and
the loss expected at init; classes_present and the baselines count them). Targets are small, one
per item; inputs are not. So targets are taken, in this order of preference, from:

- a `TensorDataset`: its last tensor (the items are `(input, ..., target)`);
- `dataset.targets`: a sequence (list, NumPy array or tensor) with one target per item, in index
  order, equal to what `dataset[i]` returns as its target (same value and dtype). torchvision's
  `ImageFolder` / `DatasetFolder`, `MNIST` and `CIFAR10` have it;
- a `Subset` or `ConcatDataset` of datasets that have one of these.

Anything else (or a `targets` attribute that disagrees with the items, e.g. under a torchvision
`target_transform`) is read from the items: one pass over the dataset through the loader's workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset, TensorDataset

SPOT_CHECKS = 32  # items whose targets are compared with the stored ones before they are trusted


def stored_targets(dataset: Dataset) -> Optional[tuple[torch.Tensor, str]]:
    """Every target of `dataset` and where it was read, when the dataset stores them; else None."""
    if isinstance(dataset, TensorDataset):
        if len(dataset.tensors) < 2:
            return None
        return dataset.tensors[-1], "the TensorDataset's last tensor"
    if isinstance(dataset, Subset):
        inner = stored_targets(dataset.dataset)
        if inner is None:
            return None
        return inner[0][torch.as_tensor(list(dataset.indices), dtype=torch.long)], f"{inner[1]}, through a Subset"
    if isinstance(dataset, ConcatDataset):
        parts = [stored_targets(d) for d in dataset.datasets]
        if any(p is None for p in parts) or not parts:
            return None
        return torch.cat([p[0] for p in parts]), f"{parts[0][1]}, through a ConcatDataset"
    stored = getattr(dataset, "targets", None)
    if stored is None or isinstance(stored, (str, bytes)) or not hasattr(stored, "__len__"):
        return None
    tensor = as_targets(stored)
    if tensor is None or len(tensor) != len(dataset):  # type: ignore[arg-type]
        return None
    return tensor, "dataset.targets"


def as_targets(values: Any) -> Optional[torch.Tensor]:
    """A tensor of `values` (a tensor, an array or a list of numbers or equal-shaped tensors); None if
    they do not make one."""
    if isinstance(values, torch.Tensor):
        return values
    try:
        if isinstance(values, np.ndarray):
            return torch.from_numpy(values)
        if len(values) and isinstance(values[0], torch.Tensor):
            return torch.stack(list(values))
        return torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError):
        return None


def disagreements(stored: torch.Tensor, indices: Sequence[int], targets: Sequence[Any]) -> list[int]:
    """The indices among `indices` whose item target (`targets`, as the items returned them) differs
    from the stored one in value or dtype."""
    bad = []
    for i, target in zip(indices, targets):
        item = torch.as_tensor(target)
        want = stored[i]
        if item.dtype != want.dtype or item.shape != want.shape or not torch.equal(item, want):
            bad.append(int(i))
    return bad
