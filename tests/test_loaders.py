"""Every read goes through the run's loaders: in-memory tensors are gathered a batch at a time (the
vectorised fast path), bit for bit the batches the item-by-item path makes, in the same order; a
user's collate still gets items; the first probe batches are read once and shared."""

from __future__ import annotations

from functools import partial

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate

from saneloop.config import Builders
from saneloop.data.batch import BatchFormat
from saneloop.data.loaders import Loaders
from saneloop.data.tensor_batches import TensorBatches
from tests.conftest import compose_cfg


class ItemByItem(Dataset):
    """The same tensors as a plain map-style dataset (read item by item)."""

    def __init__(self, *tensors):
        self.tensors = tensors

    def __len__(self):
        return len(self.tensors[0])

    def __getitem__(self, i):
        return tuple(t[i] for t in self.tensors)


def _loaders(train, test, *overrides):
    return Builders(compose_cfg(*overrides)).loaders(train, test, 0)


def _data(n):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 8, 8, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip((*a.inputs, a.targets), (*b.inputs, b.targets)))


def test_tensor_batches_are_the_batches_the_item_path_makes():
    x, y = _data(300)
    fast = _loaders(TensorDataset(x, y), TensorDataset(x[:77], y[:77]))
    slow = _loaders(ItemByItem(x, y), ItemByItem(x[:77], y[:77]))
    assert isinstance(fast.train().dataset, TensorBatches) and not isinstance(slow.train().dataset, TensorBatches)
    for a, b in zip(fast.train(), slow.train()):
        assert _same(a, b)
    for a, b in zip(fast.probe(16), slow.probe(16)):
        assert _same(a, b)
    tested = list(zip(fast.test(), slow.test()))
    assert tested and all(_same(a, b) and torch.equal(a.indices, b.indices) for a, b in tested)


def test_a_users_collate_still_gets_items():
    x, y = _data(64)
    seen = []

    def collate(items):
        seen.append(len(items))
        return default_collate(items)

    factory = partial(DataLoader, batch_size=64, shuffle=True, collate_fn=collate)
    loaders = Loaders(TensorDataset(x, y), TensorDataset(x, y), factory, partial(DataLoader), BatchFormat(), 0)
    batch = next(iter(loaders.train()))
    assert seen == [64] and len(batch) == 64 and not isinstance(loaders.train().dataset, TensorBatches)


def test_the_first_probe_batches_are_read_once_and_shared():
    x, y = _data(640)
    loaders = _loaders(TensorDataset(x, y), TensorDataset(x, y))
    first = loaders.probe_batches(4)
    assert loaders.probe_batches(4) is not first and all(a is b for a, b in zip(first, loaders.probe_batches(4)))
    assert loaders.probe_batch() is first[0]
    assert all(_same(a, b) for a, b in zip(first, loaders.probe()))
