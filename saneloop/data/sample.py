"""A bounded sample of each split's decoded inputs and targets, read through `Loaders`, for the data
gates that compare splits (split_overlap, split_shift, target_leak).

Every item is read as the run reads it (the user's collate, the batch format), then flattened to
one row per item. A split larger than `max_items` is sampled uniformly without replacement (seeded),
so the cost is bounded whatever the data's size; the gates state the fraction they saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .loaders import Loaders
from .streams import Stream, generator

_STREAMS = {"train": Stream.SPLIT_SAMPLE_TRAIN, "val": Stream.SPLIT_SAMPLE_VAL, "test": Stream.SPLIT_SAMPLE_TEST}
ELEMENTS = 20_000_000  # at most this many input values per split (160 MB as float64): fewer items of wide inputs


@dataclass
class SplitSample:
    """One split, flattened: `rows` [n, d] (float, or integer token ids when every input is integer),
    `targets` [n, ...], the dataset `indices` they came from, and the split's full length."""

    split: str
    rows: torch.Tensor
    targets: Optional[torch.Tensor]
    indices: torch.Tensor
    length: int
    shape: tuple[int, ...]  # the main input's shape per item (for pictures)

    @property
    def categorical(self) -> bool:
        return not self.rows.is_floating_point()

    @property
    def fraction(self) -> float:
        return len(self.indices) / max(self.length, 1)


def read_split(loaders: Loaders, split: str, max_items: Optional[int], seed: int) -> SplitSample:
    """Up to `max_items` items of `split` ("train", "val" or "test"), in dataset order; fewer where the inputs
    are wide (at most `ELEMENTS` values, and at least 256 items)."""
    dataset: Dataset = loaders.dataset(split)
    length = len(dataset)  # type: ignore[arg-type]
    picks = torch.arange(length)
    width = max(1, _flat([t for _, t in loaders.items(dataset, [0]).named_inputs()], 1).shape[1])
    max_items = min(max_items or length, max(256, ELEMENTS // width))
    if length > max_items:
        gen = generator(seed, _STREAMS[split])
        picks = torch.randperm(length, generator=gen)[:max_items].sort().values
    parts, targets, shape = [], [], ()
    for batch in loaders.item_batches(dataset, picks.tolist(), test=split != "train"):
        tensors = _unpadded(batch)
        if tensors:
            shape = tuple(tensors[0].shape[1:])
        parts.append([t.detach().cpu().reshape(len(batch), -1) for t in tensors])
        targets.append(batch.targets if isinstance(batch.targets, torch.Tensor) else None)
    return SplitSample(split, _rows(parts, len(picks)), _stacked(targets), picks, length, shape)


def _unpadded(batch) -> list[torch.Tensor]:
    """The batch's input tensors, with every padded position (per the padding mask) set to 0: an item
    reads the same whichever chunk, and so whatever padding length, it was collated in."""
    tensors = [t for _, t in batch.named_inputs()]
    mask = batch.padding_mask
    if mask is None:
        return tensors
    return [t.masked_fill(~mask.to(t.device), 0) if t.shape == mask.shape else t for t in tensors]


def _rows(parts: list[list[torch.Tensor]], n: int) -> torch.Tensor:
    """One row per item: each input tensor padded (with 0) to its widest chunk, then side by side (integer
    only if every input is integer). Chunks collated separately may be padded to different widths."""
    if not parts or not parts[0]:
        return torch.zeros(n, 0)
    widths = [max(p[k].shape[1] for p in parts) for k in range(len(parts[0]))]
    columns = [torch.cat([F.pad(p[k], (0, w - p[k].shape[1])) for p in parts]) for k, w in enumerate(widths)]
    return _flat(columns, n)


def _flat(tensors: list[torch.Tensor], n: int) -> torch.Tensor:
    """Every input tensor of a batch, flattened and side by side; integer only if all are integer."""
    if not tensors:
        return torch.zeros(n, 0)
    parts = [t.detach().cpu().reshape(n, -1) for t in tensors]
    if all(not p.is_floating_point() and p.dtype != torch.bool for p in parts):
        return torch.cat([p.long() for p in parts], 1)
    return torch.cat([p.double() for p in parts], 1)


def _stacked(targets: list[Any]) -> Optional[torch.Tensor]:
    if any(t is None for t in targets):
        return None
    try:
        return torch.cat([t.detach().cpu() for t in targets])
    except RuntimeError:  # per-item target shapes differ between chunks (padded sequences)
        return None


def covering_every_class(order: torch.Tensor, labels: Optional[torch.Tensor], size: int) -> Optional[list[int]]:
    """`size` items of a seeded random `order` with every class of `labels` (class ids, one per item) among
    them: the first item of each class in that order, then the earliest others, kept in that order. None
    when the first `size` already hold every class, or there are more classes than `size` (or no labels):
    then the first `size` are the draw. A binary 1:9 set's draw of 8 holds no positive 43% of the time
    (0.9^8), and a model that predicts the majority "memorises" such a batch."""
    if labels is None or len(labels) != len(order):
        return None
    drawn, classes = order[:size], labels.unique()
    if len(classes) > size or len(labels[drawn].unique()) == len(classes):
        return None
    ranked = labels[order]
    first = torch.zeros(len(order), dtype=torch.bool)
    first[[int((ranked == c).nonzero()[0]) for c in classes]] = True
    others = (~first).nonzero().flatten()[: size - len(classes)]
    positions = torch.cat([first.nonzero().flatten(), others]).sort().values
    return order[positions].tolist()
