"""In-memory tensors batched in one gather per tensor, not one index per item (the vectorised fast path).

A DataLoader over a `TensorDataset` indexes every tensor once per item and then stacks the rows:
about a quarter of a small MLP's step on the default digits. `TensorBatches` gives the DataLoader a
`__getitems__` that gathers the batch's rows at once; `BatchCollate` takes the result as it is. The
batches are the same tensors, bit for bit, in the same order (only the collate changes), so a run's
numbers do not change. Used where the run collates with torch's default collate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch.utils.data import Dataset, TensorDataset


@dataclass
class Gathered:
    """The rows of a batch, gathered: one tensor per dataset tensor (inputs..., target), and their indices."""

    tensors: list[torch.Tensor]
    indices: Optional[torch.Tensor]


class TensorBatches(Dataset):
    """`dataset` item by item as before (`(index, item)` when `indexed`), and batch by batch gathered."""

    def __init__(self, dataset: TensorDataset, indexed: bool) -> None:
        self.dataset, self.indexed = dataset, indexed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return (index, self.dataset[index]) if self.indexed else self.dataset[index]

    def __getitems__(self, indices: Sequence[int]) -> Gathered:
        rows = torch.as_tensor(indices, dtype=torch.long)
        return Gathered([t[rows] for t in self.dataset.tensors], rows if self.indexed else None)


def batchable(dataset: Dataset) -> bool:
    """A dataset the fast path serves: a TensorDataset of (input, ..., target)."""
    return isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2
