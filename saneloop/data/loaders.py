"""Every batch a run reads comes from here: the user's collate, the run's workers, one batch format.

The train stage, the evaluation and every gate and probe read through `Loaders`, so a padding
collator, `num_workers` or a dict-shaped item works the same everywhere. The gates draw from their
own seeded generators (`probe`, `fixed_batch`; every stream is in `streams`): turning a gate off never
shifts the training data order, so it cannot change the trained model.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from ..errors import InputError
from .batch import Batch, BatchFormat, pin_memory_for
from .inspection import Inspect, Inspected, Rejected
from .seeding import seed_worker
from .streams import Stream, generator
from .tensor_batches import Gathered, TensorBatches, batchable

LoaderFactory = Callable[..., DataLoader]  # a DataLoader partial (loader.train / loader.test)

KEPT = 8  # probe batches kept per batch size (memory: at most 8 batches)
_CHUNKS_PER_WORKER = 4  # items read by workers come in this many chunks per worker (an even share)
_MAX_CHUNK = 64


class IndexedDataset(Dataset):
    """Yields (index, item), so an evaluation can prove it saw every example exactly once."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.dataset[index]


class BatchCollate:
    """The user's collate (or torch's default), then the batch format; picklable for workers.

    `inspect` (where setup did not check every training item): called on each collated batch, in
    the worker that made it, or with the error the collate raised; problems it names turn the batch
    into a `Rejected`. Checking there costs the reading loop nothing: it runs beside the workers.
    """

    def __init__(
        self,
        inner: Optional[Callable[[list[Any]], Any]],
        fmt: BatchFormat,
        indexed: bool,
        inspect: Optional[Inspect] = None,
    ) -> None:
        self.inner, self.fmt, self.indexed, self.inspect = inner or default_collate, fmt, indexed, inspect

    def __call__(self, items: list[Any] | Gathered) -> Batch | Rejected:
        if isinstance(items, Gathered):  # in-memory tensors, gathered at once: (inputs..., target)
            batch = Batch(tuple(items.tensors[:-1]), {}, items.tensors[-1], items.indices, self.fmt)
            problems = self.inspect(batch, None) if self.inspect is not None else None
            return Rejected(batch.indices.tolist(), problems, batch) if problems else batch
        indices = None
        if self.indexed:
            indices = torch.tensor([i for i, _ in items])
            items = [item for _, item in items]
        if self.inspect is None:
            return self.fmt.split(self.inner(items), indices)
        try:
            batch = self.fmt.split(self.inner(items), indices)
        except (RuntimeError, TypeError, ValueError) as err:  # e.g. default_collate on items of varying shapes
            problems = self.inspect(Batch(indices=indices), err)
            if problems:
                return Rejected(indices.tolist() if indices is not None else [], problems)
            raise
        problems = self.inspect(batch, None)
        return Rejected(batch.indices.tolist(), problems, batch) if problems else batch


class Loaders:
    def __init__(
        self,
        train_set: Dataset,
        test_set: Dataset,
        train_factory: LoaderFactory,
        test_factory: LoaderFactory,
        fmt: BatchFormat,
        seed: int,
        val_set: Optional[Dataset] = None,
    ) -> None:
        self.train_set, self.test_set, self.fmt, self.seed = train_set, test_set, fmt, seed
        self.val_set = val_set  # what every decision reads; setup carves it from the training set if not given
        self._train, self._test = _without_collate(train_factory), _without_collate(test_factory)
        self.train_collate = _collate_of(train_factory)
        self.test_collate = _collate_of(test_factory) or self.train_collate  # a padding collator serves both
        # Set by setup when it could not check every training item: the gates' reads of the training
        # set are inspected too, so a bad item they meet is named as such (not read as a model bug).
        self.inspect_train: Optional[Inspect] = None
        self._kept: dict[int, list[Batch]] = {}  # batch size -> the first probe batches (probe_batches)

    @property
    def train_batch_size(self) -> int:
        return int(self._train.keywords.get("batch_size", 1))

    def train(self, dataset: Dataset | None = None, inspect: Inspect | None = None, device: Any = None) -> DataLoader:
        """The training loader, shuffled by the run's seed (what `train` and `determinism` iterate).

        With `inspect`, batches carry their dataset indices and a batch that fails it comes as a
        `Rejected` (the data order and the batches are the same either way). The train stage's loop
        takes those; readers that expect batches use `gate_train`. Feeding CUDA (`device`), pinned."""
        dataset = dataset if dataset is not None else self.train_set
        return self._train(
            self._batched(dataset, inspect is not None, self.train_collate),
            generator=generator(self.seed, Stream.TRAIN_ORDER),
            worker_init_fn=seed_worker,
            collate_fn=BatchCollate(self.train_collate, self.fmt, inspect is not None, inspect),
            **pin_memory_for(device, self._train.keywords),
        )

    def gate_train(self) -> Iterable[Batch]:
        """The training loader as a gate reads it (determinism): inspected like every gate's read."""
        if self.inspect_train is None:
            return self.train()
        return Inspected(self.train(inspect=self.inspect_train))

    def test(self) -> DataLoader:
        """The test loader over (index, item): batches carry their dataset indices. Its own generator: an
        evaluation in the middle of training draws nothing from the training stream."""
        return self.evaluation("test")

    def evaluation(self, split: str, indices: Optional[Sequence[int]] = None) -> DataLoader:
        """The loader of `split` ("val" or "test") over (index, item), as `loader.test` configures it (an
        evaluation loader), with the split's own generator; only the items at `indices` (in that order,
        batches carrying the split's own indices) when given."""
        stream = Stream.VAL_LOADER if split == "val" else Stream.TEST_LOADER
        dataset = self._batched(self.dataset(split), True, self.test_collate)
        return self._test(
            dataset if indices is None else Subset(dataset, list(indices)),
            generator=generator(self.seed, stream),
            worker_init_fn=seed_worker,
            collate_fn=BatchCollate(self.test_collate, self.fmt, True),
        )

    def carved(self, train_set: Dataset, val_set: Dataset) -> None:
        """Train on `train_set` and decide on `val_set` from now on (setup's carving); nothing read before kept."""
        self.train_set, self.val_set, self._kept = train_set, val_set, {}

    def dataset(self, split: str) -> Dataset:
        """The dataset of `split`: "train", "val" or "test"."""
        found = {"train": self.train_set, "val": self.val_set, "test": self.test_set}[split]
        if found is None:
            raise ValueError(f"no {split} set yet: setup carves the validation set from the training set")
        return found

    def probe(self, batch_size: Optional[int] = None) -> Iterable[Batch]:
        """Shuffled training batches for the gates, from their own generator (a DataLoader; inspected
        when setup set `inspect_train`)."""
        inspect = self.inspect_train
        loader = self._train(
            self._batched(self.train_set, inspect is not None, self.train_collate),
            batch_size=batch_size or self.train_batch_size,
            shuffle=True,
            drop_last=False,
            generator=generator(self.seed, Stream.PROBE),
            worker_init_fn=seed_worker,
            collate_fn=BatchCollate(self.train_collate, self.fmt, inspect is not None, inspect),
        )
        return loader if inspect is None else Inspected(loader)

    def probe_batch(self, batch_size: Optional[int] = None) -> Batch:
        """One real training batch (the gates' own shuffle): the first of `probe_batches`."""
        return self.probe_batches(1, batch_size)[0]

    def probe_batches(self, count: int, batch_size: Optional[int] = None) -> list[Batch]:
        """The first `count` batches of `probe(batch_size)`, read once and kept (up to KEPT of them)
        for the gates that ask again: reading them costs a loader start (with workers: forking them
        and waiting for their prefetched batches) and each item's decoding."""
        size = batch_size or self.train_batch_size
        kept = self._kept.get(size, [])
        if len(kept) < count:
            kept = list(itertools.islice(self.probe(size), count))
            if count <= KEPT:
                self._kept[size] = kept
        return kept[:count]

    def fixed_batch(self, size: int, key: str = "gates.overfit.batch_size") -> Batch:
        """The same `size` training examples for a given seed (e.g. the overfit batch)."""
        if size > len(self.train_set):  # type: ignore[arg-type]
            raise InputError(f"{key}={size} is larger than the training set ({len(self.train_set)} examples); lower it")
        picks = torch.randperm(len(self.train_set), generator=generator(self.seed, Stream.FIXED_BATCH))[:size]
        return self.items(self.train_set, picks.tolist())

    def items(self, dataset: Dataset, indices: Sequence[int], test: bool = False) -> Batch:
        """The items at `indices`, collated as the run collates them, with their indices."""
        batch = self._collate(dataset, test)(
            [pair for chunk in self.read(dataset, indices, list, test) for pair in chunk]
        )
        return next(iter(Inspected([batch])))

    def item_batches(self, dataset: Dataset, indices: Sequence[int], test: bool = False) -> Iterator[Batch]:
        """The items at `indices` in chunks, in order, collated as the run collates them: one loader's
        workers read them all (many `items` calls would start workers each time)."""
        collate = self._collate(dataset, test)
        for chunk in self.read(dataset, indices, list, test):
            yield next(iter(Inspected([collate(chunk)])))

    def _collate(self, dataset: Dataset, test: bool) -> BatchCollate:
        inspect = None if test or dataset is not self.train_set else self.inspect_train
        return BatchCollate(self.test_collate if test else self.train_collate, self.fmt, True, inspect)

    def read(
        self, dataset: Dataset, indices: Sequence[int], digest: Callable[[list[Any]], Any], test: bool = False
    ) -> Iterator[Any]:
        """`digest` of each chunk of (index, item) pairs for `indices`, in order. The items are read by
        the split's DataLoader workers (`loader.*.num_workers`), which also run `digest`: what comes
        back to this process is what `digest` keeps (the items themselves, or a few numbers)."""
        indices = list(indices)
        workers = self.workers(test)
        if workers == 0 or len(indices) <= workers:  # forking workers for a few items costs more than it saves
            for start in range(0, len(indices), _MAX_CHUNK):
                yield digest([(i, dataset[i]) for i in indices[start : start + _MAX_CHUNK]])
            return
        chunk = max(1, min(_MAX_CHUNK, -(-len(indices) // (workers * _CHUNKS_PER_WORKER))))
        factory = self._test if test else self._train
        yield from factory(
            Subset(IndexedDataset(dataset), indices),
            batch_size=chunk,
            shuffle=False,
            drop_last=False,
            pin_memory=False,
            collate_fn=digest,
            worker_init_fn=seed_worker,
        )

    @staticmethod
    def _batched(dataset: Dataset, indexed: bool, collate: Optional[Callable[[list[Any]], Any]]) -> Dataset:
        """What a DataLoader iterates: in-memory tensors gathered a batch at a time where the default
        collate would stack them (`tensor_batches`); (index, item) pairs when `indexed`."""
        if collate is None and batchable(dataset):
            return TensorBatches(dataset, indexed)  # type: ignore[arg-type]
        return IndexedDataset(dataset) if indexed else dataset

    def workers(self, test: bool = False) -> int:
        """`loader.test.num_workers` (test) or `loader.train.num_workers`."""
        return int((self._test if test else self._train).keywords.get("num_workers") or 0)

    def first_items(self, split: str, count: int) -> Batch:
        """The first `count` examples of an evaluation split ("val" or "test"): a fixed batch."""
        dataset = self.dataset(split)
        return self.items(dataset, range(min(count, len(dataset))), test=True)  # type: ignore[arg-type]

    def uninterrupted_order(self, epoch: int, offset: int, count: int) -> list[list[int]]:
        """The dataset indices of batches `offset`..`offset + count - 1` of `epoch` that `train()` yields
        from a fresh start: the same factory and seed over an index-only dataset, one process, no workers."""
        ghost = self._train(
            _Indices(len(self.train_set)),  # type: ignore[arg-type]
            generator=generator(self.seed, Stream.TRAIN_ORDER),
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
