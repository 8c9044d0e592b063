"""The dataset summary read through the run's collate, for data whose items are not yet what the model
gets: a padding collator that makes the labels (DataCollatorForLanguageModeling), one that tokenizes.

Items are collated in chunks, so targets of different lengths come out padded; chunks are joined
padded with the ignore index, which counts nowhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset

from ..errors import InputError
from .batch import BatchFormat
from .padding import IGNORE_INDEX, cat_padded

CHUNK = 256  # items per collate call


def summarize_collated(
    dataset: Dataset, split: str, collate: Callable[[list[Any]], Any], fmt: BatchFormat, pad_value: int = IGNORE_INDEX
):
    """A DatasetSummary of `dataset` as `collate` hands it to the model."""
    from .summary import DatasetSummary, finite_rows

    length = len(dataset)  # type: ignore[arg-type]
    targets, nonfinite, shapes = [], [], set()
    for start in range(0, length, CHUNK):
        rows = range(start, min(start + CHUNK, length))
        try:
            batch = fmt.split(collate([dataset[i] for i in rows]))
        except InputError:
            raise
        except Exception as err:  # noqa: BLE001 - the user's collate failing on their items, named
            raise InputError(
                f"the collate function (loader.train.collate_fn) failed on {split} items "
                f"{rows.start}..{rows.stop - 1}: "
                f"{type(err).__name__}: {err}"
            ) from err
        if not isinstance(batch.targets, torch.Tensor):
            raise InputError(f"{split} batches hold targets of type {type(batch.targets).__name__}; need a tensor")
        bad = ~finite_rows(batch.targets)
        for _, tensor in batch.named_inputs():
            if tensor.dim() >= 1 and len(tensor) == len(bad):
                bad |= ~finite_rows(tensor)
        nonfinite += (bad.nonzero().flatten() + start).tolist()
        first = batch.first_input
        if first is not None:
            shapes.add(tuple(first.shape[1:]))
        targets.append(batch.targets)
    return DatasetSummary(length, cat_padded(targets, pad_value), nonfinite, shapes)
