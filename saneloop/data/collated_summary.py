"""The digest of items read through the run's collate, for data whose items are not yet what the model
gets: a padding collator that makes the labels (DataCollatorForLanguageModeling), one that tokenizes.

Each chunk is collated as a batch, so its targets of different lengths come out padded; `summary`
joins the chunks padded with the ignore index, which counts nowhere. Read like every other digest:
through the loader's workers when it has them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import InputError
from .batch import BatchFormat


class CollatedDigest:
    """A DataLoader collate: the run's `collate` on a chunk of (index, item) pairs, then what the checks
    keep of the batch it makes (targets, NaN/Inf rows, the main input's shape); picklable for workers."""

    def __init__(self, collate: Callable[[list[Any]], Any], fmt: BatchFormat, split: str) -> None:
        self.collate, self.fmt, self.split = collate, fmt, split

    def __call__(self, pairs: list[tuple[int, Any]]):
        from .summary import ChunkDigest, finite_rows

        indices = [int(i) for i, _ in pairs]
        digest = ChunkDigest(indices, None, [], set())
        try:
            batch = self.fmt.split(self.collate([item for _, item in pairs]))
        except InputError as err:  # told to the reading process as data, not as a worker's traceback
            digest.error = str(err)
            return digest
        except Exception as err:  # noqa: BLE001 - the user's collate failing on their items, named
            digest.error = (
                f"the collate function (loader.train.collate_fn) failed on {self.split} items "
                f"{indices[0]}..{indices[-1]}: {type(err).__name__}: {err}"
            )
            return digest
        if not isinstance(batch.targets, torch.Tensor):
            digest.error = f"{self.split} batches hold targets of type {type(batch.targets).__name__}; need a tensor"
            return digest
        bad = ~finite_rows(batch.targets)
        for _, tensor in batch.named_inputs():
            if tensor.dim() >= 1 and len(tensor) == len(bad):
                bad |= ~finite_rows(tensor)
        digest.nonfinite = [indices[k] for k in bad.nonzero().flatten().tolist()]
        if batch.first_input is not None:
            digest.shapes.add(tuple(batch.first_input.shape[1:]))
        digest.targets = batch.targets
        return digest
