"""Pinned memory where it helps: the train loader pins its batches when it feeds CUDA (unless
`loader.train.pin_memory` says otherwise), and a pinned tensor is copied to the device without blocking."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from saneloop.data.batch import Batch, BatchFormat, pin_memory_for
from saneloop.data.loaders import Loaders


@pytest.mark.parametrize(
    ("device", "keywords", "expected"),
    [
        (torch.device("cuda", 0), {}, {"pin_memory": True}),
        ("cuda", {"batch_size": 8}, {"pin_memory": True}),
        (torch.device("cpu"), {}, {}),
        (None, {}, {}),
        ("cuda", {"pin_memory": False}, {}),  # the user's choice stands
    ],
)
def test_the_loader_pins_only_when_it_feeds_cuda_and_the_user_did_not_choose(device, keywords, expected):
    assert pin_memory_for(device, keywords) == expected


def _loaders(**train_keywords) -> Loaders:
    data = TensorDataset(torch.randn(16, 3), torch.randint(0, 2, (16,)))
    factory = partial(DataLoader, batch_size=4, shuffle=True, **train_keywords)
    return Loaders(data, data, factory, partial(DataLoader, batch_size=8), BatchFormat(), seed=0)


def test_the_train_loader_is_pinned_for_cuda_and_not_for_cpu():
    assert _loaders().train(device=torch.device("cuda")).pin_memory
    assert not _loaders().train(device=torch.device("cpu")).pin_memory
    assert not _loaders().train().pin_memory
    assert not _loaders(pin_memory=False).train(device=torch.device("cuda")).pin_memory


class _Pinned(torch.Tensor):
    """A tensor that says it is pinned (a CPU-only machine cannot pin), recording how it is copied."""

    copies: list[bool] = []

    def is_pinned(self, *args, **kwargs) -> bool:
        return True

    def to(self, *args, non_blocking: bool = False, **kwargs):
        _Pinned.copies.append(non_blocking)
        return self.as_subclass(torch.Tensor).to(*args, non_blocking=non_blocking, **kwargs)


def test_a_pinned_tensor_is_copied_without_blocking_and_a_pageable_one_as_asked():
    _Pinned.copies.clear()
    pinned = torch.ones(2, 3).as_subclass(_Pinned)
    moved = Batch((pinned,), {"mask": torch.ones(2)}, torch.zeros(2)).to("cpu")
    assert _Pinned.copies == [True]  # Accelerate's placement asks for a blocking copy; pinned memory needs none
    assert torch.equal(moved.inputs[0], torch.ones(2, 3)) and torch.equal(moved.kwargs["mask"], torch.ones(2))
