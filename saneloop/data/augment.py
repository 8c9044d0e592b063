"""Augmentation (tip 2): off by default, and when chosen (`augment=shift`) applied by the train stage
only, so every gate before training judges the data and the model as they are.

A transform is any callable from one input to one input, built from `augment._target_`. Its
randomness comes from torch's generator, which saneloop seeds (and seeds per DataLoader worker).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


class Augmented(Dataset):
    """`dataset` with `transform` applied to each item's (first) input; targets untouched."""

    def __init__(self, dataset: Dataset, transform: Callable[[Any], Any]) -> None:
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        item = self.dataset[index]
        if isinstance(item, dict):  # a dict item (input_ids, pixel_values, labels ...): the transform takes it whole
            return self.transform(item)
        return (self.transform(item[0]), *item[1:])  # (input, ..., target): the first input


class RandomShift:
    """Shift an image [C, H, W] (or [H, W]) by up to `pixels` in each direction, filling with zeros."""

    def __init__(self, pixels: int = 1) -> None:
        self.pixels = int(pixels)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        p = self.pixels
        if p <= 0:
            return image
        dy, dx = (int(v) for v in torch.randint(-p, p + 1, (2,)))
        h, w = image.shape[-2:]
        padded = F.pad(image, (p, p, p, p))
        return padded[..., p + dy : p + dy + h, p + dx : p + dx + w]


class GaussianNoise:
    """Add N(0, std^2) noise to a float input."""

    def __init__(self, std: float = 0.05) -> None:
        self.std = float(std)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x)
