"""How far `train` got, in what a person means by it whatever the number of processes: passes over
the training set (`epochs`) and the training items the steps took (`items`, summed over processes).

A step is one batch on every process: with N processes Accelerate shards the loader, so an epoch
takes about 1/N of the steps of one process (`loader.train.batch_size` is per process). Counting
the items as the batches go by (a length per batch, no host sync) catches what the epoch count
alone would not, e.g. every process training on the whole set. The few items Accelerate repeats to
even out an epoch's last step across processes are counted again (`even_batches`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..data.inspection import Rejected
from .distributed import summed


class Progress:
    """Epochs and items so far; `counted` wraps each epoch's batches, `record` goes in a checkpoint."""

    def __init__(self, epoch_steps: int) -> None:
        self.epoch_steps = epoch_steps  # the steps of one epoch on this process (the sharded loader's length)
        self.items = 0  # items this process stepped on since this run started
        self.items_before = 0  # every process's, up to the checkpoint a resumed run continues from

    def counted(self, batches: Iterable[Any]) -> Iterator[Any]:
        for batch in batches:
            self.items += len(batch.indices) if type(batch) is Rejected else len(batch)
            yield batch

    def record(self, accelerator: Any, epoch: int, batch_in_epoch: int) -> dict[str, Any]:
        """`epochs` (3.0 after three whole epochs) and `items`; every process calls it (a gather)."""
        return {
            "epochs": epoch + batch_in_epoch / max(self.epoch_steps, 1),
            "items": self.items_before + summed(accelerator, self.items),
        }

    def restore(self, payload: dict[str, Any]) -> None:
        self.items_before = int(payload.get("items", 0))  # absent from checkpoints written before it was kept
