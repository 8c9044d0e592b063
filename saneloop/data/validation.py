"""The validation split, carved from the training set: seeded, stratified by class, no item read twice.

Every decision of a run reads validation (the gates' held-out comparisons, the loss curve during
training, a sweep's objective); the test set is read once, at the end. The carving draws from its own
stream (`Stream.VAL_SPLIT`) seeded by `validation.seed`, not the run's seed, so every run of a sweep
decides on the same items. It works on the targets setup has already read (`DatasetSummary`): the
summaries of the two parts are cut from the whole training set's, so no item is read again.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Optional

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from ..errors import InputError
from .streams import Stream, generator
from .summary import DatasetSummary

# Fewer validation items than this cannot decide anything: a held-out comparison or a metric's standard
# error on a handful of examples is noise.
MIN_ITEMS = 8
MAX_SHARE = 0.3  # validation.min_items carves up to this share of a small training set, never more
OWN_SET = "give your own validation set (data._target_ returning (train, val, test))"


def class_labels(targets: torch.Tensor) -> Optional[torch.Tensor]:
    """Class ids 0..C-1, one per item, when the targets are class labels (integers, or floats with at most
    two values: binary labels); None otherwise (regression values, token sequences)."""
    flat = targets.reshape(len(targets), -1)
    if flat.shape[1] != 1:
        return None
    values = flat[:, 0]
    if values.is_floating_point() and len(values.unique()) > 2:
        return None
    return values.unique(return_inverse=True)[1]


def carve(targets: torch.Tensor, fraction: float, seed: int, min_items: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted indices (training, validation) of a training set with `targets`: `round(fraction * n)` items
    for validation, or `min_items` where that is more (up to MAX_SHARE of n), each class giving its share
    to within one item when the targets are class labels."""
    n = len(targets)
    count = max(round(fraction * n), min(min_items, round(MAX_SHARE * n)))
    refuse_too_few(count, f"validation.fraction={fraction} of the {n:,} training items carves", n)
    gen = generator(seed, Stream.VAL_SPLIT)
    order = torch.randperm(n, generator=gen)
    classes = class_labels(targets)
    if classes is not None:
        order = order[_spread_by_class(classes[order], gen)]
    keep = torch.ones(n, dtype=torch.bool)
    keep[order[:count]] = False
    return keep.nonzero().flatten(), (~keep).nonzero().flatten()


def _spread_by_class(classes: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """An order of `classes` (already shuffled) that spreads each class evenly: the k-th item of a class of
    n_c items sits at (k + u_c) / n_c, u_c a random offset in [0, 1). Any prefix of it holds every class
    in proportion, to within one item."""
    counts = torch.bincount(classes)
    within, position = torch.sort(classes, stable=True)
    rank = torch.empty_like(classes)
    rank[position] = torch.arange(len(classes)) - (torch.cumsum(counts, 0) - counts)[within]
    offset = torch.rand(len(counts), generator=gen, dtype=torch.float64)
    key = (rank.double() + offset[classes]) / counts[classes].double()
    return torch.argsort(key, stable=True)


def refuse_too_few(count: int, what: str, train_items: Optional[int] = None) -> None:
    """An InputError when a validation set of `count` items is too small to decide on."""
    if count >= MIN_ITEMS:
        return
    fix = OWN_SET
    if train_items is not None:
        needed = math.ceil(100 * (MIN_ITEMS - 0.5) / train_items) / 100
        raise_to = f"raise validation.fraction (to {needed:g})" if needed <= 0.9 else "give more training data"
        fix = f"{raise_to}, or {OWN_SET}"
    raise InputError(
        f"{what} {count} validation item{'s' if count != 1 else ''}; the decisions (held-out comparisons, "
        f"the loss curve, a sweep's objective) need at least {MIN_ITEMS}: {fix}"
    )


def part(dataset: Dataset, indices: torch.Tensor) -> Dataset:
    """The items of `dataset` at `indices`, in order: a TensorDataset stays one (the fast path)."""
    if isinstance(dataset, TensorDataset):
        return TensorDataset(*(t[indices] for t in dataset.tensors))
    return Subset(dataset, indices.tolist())


def part_summary(summary: DatasetSummary, indices: torch.Tensor) -> DatasetSummary:
    """What `summary` (of the whole training set) says of the items at `indices`, renumbered as `part`
    numbers them. Input shapes stay those of the whole set's checked items."""
    new = {int(old): i for i, old in enumerate(indices.tolist())}
    sampled = [new[i] for i in summary.sampled if i in new]
    return replace(
        summary,
        length=len(indices),
        targets=summary.targets[indices],
        nonfinite=[new[i] for i in summary.nonfinite if i in new],
        checked=None if summary.checked is None else len(sampled),
        sampled=sampled,
    )
