"""What setup knows about a dataset: its targets, and which of the items it read hold NaN or Inf.

Nothing here keeps an input: each item is checked where it is read (in a DataLoader worker when the
loader has workers) and only its target, its input shape and a finite flag come back. A
`TensorDataset` is summarised from its tensors at once (vectorised, every item).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch.utils.data import Dataset, TensorDataset

from ..errors import InputError
from .batch import BatchFormat
from .digest import ChunkDigest, CollatedDigest, Digest, finite_rows
from .padding import IGNORE_INDEX, cat_padded

# How items are read: (dataset, indices, digest) -> digest of each chunk of (index, item) pairs.
Reader = Callable[[Dataset, Sequence[int], Callable[[list[Any]], Any]], Iterable[Any]]


@dataclass
class DatasetSummary:
    length: int
    targets: torch.Tensor
    nonfinite: list[int]  # indices of checked samples whose input or target holds NaN/Inf
    input_shapes: set[tuple[int, ...]]  # shapes of the main input (the first input tensor) of each checked item
    checked: Optional[int] = None  # items whose inputs were read and checked; None: every item
    targets_from: str = "the items"  # where the targets were read (a note in the report)
    sampled: list[int] = field(default_factory=list)  # the indices checked, when not every item was

    @property
    def complete(self) -> bool:
        """Every item's inputs were checked (not only a sample)."""
        return self.checked is None or self.checked >= self.length


def summarize(
    dataset: Dataset,
    split: str,
    fmt: BatchFormat = BatchFormat(),
    read: Optional[Reader] = None,
    collate: Optional[Callable[[list[Any]], Any]] = None,
    pad_value: int = IGNORE_INDEX,
) -> DatasetSummary:
    """Every item checked once (vectorised for a TensorDataset), malformed items refused clearly.

    `read`: how items are read (e.g. `Loaders.read`, through the loader's workers); by default in this
    process. Memory holds the targets and a few flags, never the inputs. With the run's `collate` (a
    padding collator, one that makes the labels), items are read as it batches them; integer targets
    of different lengths are padded with `pad_value` (the task's ignore index: they count nowhere).
    """
    length = length_of(dataset, split)
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:  # items are (input, ..., target)
        return _summarize_tensors(dataset.tensors[:-1], dataset.tensors[-1])
    digest = CollatedDigest(collate, fmt, split) if collate is not None else Digest(fmt, split, pad_value)
    digests = read_digests(dataset, range(length), digest, read)
    return DatasetSummary(length, joined_targets(digests, split, pad_value), _nonfinite(digests), _shapes(digests))


def read_digests(
    dataset: Dataset, indices: Sequence[int], digest: Callable[[list[Any]], ChunkDigest], read: Optional[Reader] = None
) -> list[ChunkDigest]:
    """`digest` of the items at `indices` (a `Digest` or a `CollatedDigest`); an item that is not a valid
    (input, target), or that the collate cannot batch, is refused."""
    chunks = read(dataset, indices, digest) if read is not None else _in_process(dataset, indices, digest)
    digests = []
    for chunk in chunks:
        if chunk.error:
            raise InputError(chunk.error)
        digests.append(chunk)
    return digests


def length_of(dataset: Dataset, split: str) -> int:
    try:
        length = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise InputError(f"the {split} dataset has no len(); saneloop needs a map-style Dataset") from None
    if length == 0:
        raise InputError(f"the {split} dataset is empty; check data._target_ and its arguments")
    return length


def joined_targets(digests: list[ChunkDigest], split: str, pad_value: int = IGNORE_INDEX) -> torch.Tensor:
    """The targets of every digest, in order, as one tensor (token labels padded with `pad_value`)."""
    try:
        parts = [d.targets for d in digests if d.targets is not None]
        if parts and not parts[0].is_floating_point():
            return cat_padded(parts, pad_value)
        return torch.cat(parts)
    except RuntimeError as err:
        raise InputError(f"{split} targets have varying shapes and cannot be batched: {err}") from None


def _in_process(dataset: Dataset, indices: Sequence[int], digest: Digest, chunk: int = 256) -> Iterable[ChunkDigest]:
    indices = list(indices)
    for start in range(0, len(indices), chunk):
        yield digest([(i, dataset[i]) for i in indices[start : start + chunk]])


def _nonfinite(digests: list[ChunkDigest]) -> list[int]:
    return [i for d in digests for i in d.nonfinite]


def _shapes(digests: list[ChunkDigest]) -> set[tuple[int, ...]]:
    return set().union(*(d.shapes for d in digests)) if digests else set()


def _summarize_tensors(inputs: Sequence[torch.Tensor], targets: torch.Tensor) -> DatasetSummary:
    bad = ~finite_rows(targets)
    for tensor in inputs:
        bad |= ~finite_rows(tensor)
    return DatasetSummary(
        len(targets), targets, bad.nonzero().flatten().tolist(), {tuple(inputs[0].shape[1:])}, None, "tensors"
    )
