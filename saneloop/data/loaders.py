"""Every batch a run reads comes from here: the user's collate, the run's workers, one batch format.

The train stage, the evaluation and every gate and probe read through `Loaders`, so a padding
collator, `num_workers` or a dict-shaped item works the same everywhere. The gates draw from their
own seeded generators (`probe`, `fixed_batch`): turning a gate off never shifts the training data
order, so it cannot change the trained model.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from ..errors import InputError
from .batch import Batch, BatchFormat
from .seeding import generator, seed_worker

LoaderFactory = Callable[..., DataLoader]  # a DataLoader partial (loader.train / loader.test)

# Offsets of the gates' generators from the run's seed: the probes, the overfit batch and the test
# loader each have their own stream, apart from the training order (seed + 0).
PROBE_STREAM, FIXED_STREAM, TEST_STREAM = 1, 2, 3


class IndexedDataset(Dataset):
    """Yields (index, item), so an evaluation can prove it saw every example exactly once."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.dataset[index]


class BatchCollate:
    """The user's collate (or torch's default), then the batch format; picklable for workers."""

    def __init__(self, inner: Optional[Callable[[list[Any]], Any]], fmt: BatchFormat, indexed: bool) -> None:
        self.inner, self.fmt, self.indexed = inner or default_collate, fmt, indexed

    def __call__(self, items: list[Any]) -> Batch:
        indices = None
        if self.indexed:
            indices = torch.tensor([i for i, _ in items])
            items = [item for _, item in items]
        return self.fmt.split(self.inner(items), indices)


class Loaders:
    def __init__(
        self,
        train_set: Dataset,
        test_set: Dataset,
        train_factory: LoaderFactory,
        test_factory: LoaderFactory,
        fmt: BatchFormat,
        seed: int,
    ) -> None:
        self.train_set, self.test_set, self.fmt, self.seed = train_set, test_set, fmt, seed
        self._train, self._test = _without_collate(train_factory), _without_collate(test_factory)
        self.train_collate = _collate_of(train_factory)
        self.test_collate = _collate_of(test_factory) or self.train_collate  # a padding collator serves both

    @property
    def train_batch_size(self) -> int:
        return int(self._train.keywords.get("batch_size", 1))

    @property
    def test_batch_size(self) -> int:
        return int(self._test.keywords.get("batch_size", 1))

    def train(self, dataset: Optional[Dataset] = None) -> DataLoader:
        """The training loader, shuffled by the run's seed (what `train` and `determinism` iterate)."""
        return self._train(
            dataset if dataset is not None else self.train_set,
            generator=generator(self.seed),
            worker_init_fn=seed_worker,
            collate_fn=BatchCollate(self.train_collate, self.fmt, False),
        )

    def test(self) -> DataLoader:
        """The test loader over (index, item): batches carry their dataset indices. Its own generator: an
        evaluation in the middle of training draws nothing from the training stream."""
        return self._test(
            IndexedDataset(self.test_set),
            generator=generator(self.seed + TEST_STREAM),
            worker_init_fn=seed_worker,
            collate_fn=BatchCollate(self.test_collate, self.fmt, True),
        )

    def probe(self, batch_size: Optional[int] = None) -> DataLoader:
        """Shuffled training batches for the gates, from their own generator."""
        return self._train(
            self.train_set,
            batch_size=batch_size or self.train_batch_size,
            shuffle=True,
            drop_last=False,
            generator=generator(self.seed + PROBE_STREAM),
            worker_init_fn=seed_worker,
            collate_fn=BatchCollate(self.train_collate, self.fmt, False),
        )

    def probe_batch(self, batch_size: Optional[int] = None) -> Batch:
        """One real training batch (the gates' own shuffle)."""
        return next(iter(self.probe(batch_size)))

    def fixed_batch(self, size: int, key: str = "gates.overfit.batch_size") -> Batch:
        """The same `size` training examples for a given seed (e.g. the overfit batch)."""
        if size > len(self.train_set):  # type: ignore[arg-type]
            raise InputError(f"{key}={size} is larger than the training set ({len(self.train_set)} examples); lower it")
        picks = torch.randperm(len(self.train_set), generator=generator(self.seed + FIXED_STREAM))[:size]
        return self.items(self.train_set, picks.tolist())

    def items(self, dataset: Dataset, indices: Sequence[int], test: bool = False) -> Batch:
        """The items at `indices`, collated as the run collates them, with their indices."""
        collate = BatchCollate(self.test_collate if test else self.train_collate, self.fmt, True)
        return collate([(i, dataset[i]) for i in indices])

    def test_items(self, count: int) -> Batch:
        """The first `count` test examples (a fixed test batch)."""
        return self.items(self.test_set, range(min(count, len(self.test_set))), test=True)  # type: ignore[arg-type]

    def uninterrupted_order(self, epoch: int, offset: int, count: int) -> list[list[int]]:
        """The dataset indices of batches `offset`..`offset + count - 1` of `epoch` that `train()` yields
        from a fresh start: the same factory and seed over an index-only dataset, one process, no workers."""
        ghost = self._train(
            _Indices(len(self.train_set)),  # type: ignore[arg-type]
            generator=generator(self.seed),
            collate_fn=lambda items: [int(i) for i in items],
            num_workers=0,
            persistent_workers=False,
            prefetch_factor=None,
            worker_init_fn=None,
        )
        for _ in range(epoch):
            for _ in ghost:  # earlier epochs: drawn only to advance the generator as the run did
                pass
        return list(itertools.islice(ghost, offset, offset + count))


class _Indices(Dataset):
    """A dataset whose items are their own indices (to draw a loader's order without loading data)."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> int:
        return index


def _collate_of(factory: LoaderFactory) -> Optional[Callable[[list[Any]], Any]]:
    return getattr(factory, "keywords", {}).get("collate_fn")


def _without_collate(factory: LoaderFactory) -> partial:
    """The factory as a partial without its collate_fn (saneloop wraps it in `BatchCollate`)."""
    if not isinstance(factory, partial):
        raise InputError(
            f"loader.train / loader.test must build DataLoader partials (`_partial_: true`), got "
            f"{type(factory).__name__}"
        )
    keywords = {k: v for k, v in factory.keywords.items() if k != "collate_fn"}
    return partial(factory.func, *factory.args, **keywords)
