"""A synthetic map-style image set of any size, each item costing what decoding a JPEG costs.

`SyntheticImages(n, cost_ms)` stands for an image folder: item i is made on demand (a class
prototype plus noise seeded by i, so it is learnable and the same every time it is read), after a
`cost_ms` sleep for the decode. Nothing is held but the labels, stored as `targets` the way
torchvision's ImageFolder stores them, so a run can read every target without decoding an image.
Used by the scale bench (scripts/bench_scale.py), the full_pass tests and a bench case.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

CLASSES, SHAPE = 10, (1, 8, 8)  # digits-shaped, so the classify recipe's MLP fits it as it is


def _labels(start: int, count: int) -> torch.Tensor:
    """Labels of items start .. start + count, from a hash of the index (no item is made)."""
    index = torch.arange(start, start + count, dtype=torch.int64)
    return ((index * 2654435761) % 4294967296 // 65536 % CLASSES).long()


class SyntheticImages(Dataset):
    """`n` items (image [1, 8, 8], label) from item `offset` on; `nan_at`: items with a NaN pixel."""

    def __init__(
        self,
        n: int,
        cost_ms: float = 0.0,
        offset: int = 0,
        nan_at: Sequence[int] = (),
        stored_targets: bool = True,
        noise: float = 0.6,
    ) -> None:
        self.n, self.cost, self.offset, self.noise = int(n), float(cost_ms) / 1000.0, int(offset), float(noise)
        self.nan_at = frozenset(int(i) for i in nan_at)
        self.prototypes = torch.randn(CLASSES, *SHAPE, generator=torch.Generator().manual_seed(1234))
        if stored_targets:
            self.targets = _labels(self.offset, self.n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < self.n:
            raise IndexError(index)
        if self.cost:
            time.sleep(self.cost)  # the decode
        label = int(_labels(self.offset + index, 1))
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(self.offset + index))
        image = self.prototypes[label] + self.noise * noise
        if index in self.nan_at:
            image[0, 0, 0] = float("nan")
        return image, label


def synthetic_images(
    n: int = 10_000,
    test_size: int = 1_000,
    cost_ms: float = 0.0,
    nan_at: Sequence[int] = (),
    stored_targets: bool = True,
    split_seed: int = 0,
    val_size: int = 0,
) -> tuple[SyntheticImages, ...]:
    """(train, test): `n` and `test_size` items, distinct (the test set starts where train ends); with
    `val_size`, (train, val, test), the validation set after the test set, so the training set is the data's
    own, numbered as given (nothing carved from it). `split_seed` is accepted so the classify recipe's data
    arguments pass through; it changes nothing."""
    train = SyntheticImages(n, cost_ms, 0, nan_at, stored_targets)
    test = SyntheticImages(test_size, cost_ms, n, (), stored_targets)
    if not val_size:
        return train, test
    return train, SyntheticImages(val_size, cost_ms, n + test_size, (), stored_targets), test
