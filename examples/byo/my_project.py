"""A user's own code: a small CNN and a dataset function, nothing saneloop-specific in them."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from saneloop.datasets.digits import load_digits_arrays, seeded_split


class TinyCNN(nn.Module):
    """Two 3x3 convolutions on 8x8 digits, then a linear head giving logits [B, num_classes]."""

    def __init__(self, num_classes: int, channels: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(channels * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class DigitImages(Dataset):
    """A map-style dataset of (image [1, 8, 8], label) pairs, as most user datasets are written."""

    def __init__(self, pixels, labels) -> None:
        self.pixels, self.labels = pixels, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        image = torch.tensor(self.pixels[i], dtype=torch.float32).reshape(1, 8, 8) / 16.0
        return image, int(self.labels[i])


def my_digits(test_size: int = 300, seed: int = 1) -> tuple[Dataset, Dataset]:
    pixels, labels = load_digits_arrays()
    train_idx, test_idx = seeded_split(len(labels), test_size, seed)
    return DigitImages(pixels[train_idx], labels[train_idx]), DigitImages(pixels[test_idx], labels[test_idx])
