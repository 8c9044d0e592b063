"""A user's model with two inputs: a digit's image and a vector of side features about it.

Items are `(image, features, label)`: saneloop passes every element but the last to the model, in
order (`model(image, features)`), and the last is the target. The side features here are the ink of
each row and column (16 numbers, standardised on the training set), the kind of hand-made features
that often travel beside an image.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from saneloop.datasets import digits


class ImageAndFeatures(nn.Module):
    """A small convolutional branch for the image, an MLP branch for the features, a joint head."""

    def __init__(self, features: int, num_classes: int, channels: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.image = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.Flatten())
        self.side = nn.Sequential(nn.Linear(features, hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(channels * 64 + hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, image: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.image(image), self.side(features)], dim=1))


def ink_profile(images: torch.Tensor) -> torch.Tensor:
    """Row sums and column sums of each 8x8 image: [N, 16]."""
    x = images.reshape(len(images), 8, 8)
    return torch.cat([x.sum(2), x.sum(1)], dim=1)


def digits_and_features(test_size: int = 449, split_seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """scikit-learn's digits as (image [1, 8, 8], ink profile [16], label); features standardised by the
    training set's mean and standard deviation."""
    train, test = digits(test_size=test_size, split_seed=split_seed)
    (x, y), (xt, yt) = train.tensors, test.tensors
    f, ft = ink_profile(x), ink_profile(xt)
    mean, std = f.mean(0), f.std(0).clamp_min(1e-6)
    return TensorDataset(x, (f - mean) / std, y), TensorDataset(xt, (ft - mean) / std, yt)
