"""A user's own regression code: a residual MLP and a dataset function, nothing saneloop-specific in them."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_diabetes
from torch import nn
from torch.utils.data import Dataset


class ResidualMLP(nn.Module):
    """Linear -> `blocks` x (x + MLP(norm(x))) -> Linear to one value [B, 1]."""

    def __init__(self, in_features: int, hidden: int = 32, blocks: int = 2) -> None:
        super().__init__()
        self.embed = nn.Linear(in_features, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
            for _ in range(blocks)
        )
        self.out = nn.Linear(hidden, 1)
        with torch.no_grad():
            self.out.weight.mul_(0.1)  # start near the bias, which saneloop sets to the target mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


class Patients(Dataset):
    """(features [10], target [1]) pairs, as most user datasets are written."""

    def __init__(self, features: np.ndarray, targets: np.ndarray) -> None:
        self.features, self.targets = features, targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return torch.tensor(self.features[i], dtype=torch.float32), torch.tensor([self.targets[i]], dtype=torch.float32)


def my_diabetes(test_size: int = 100, seed: int = 3, target_shift: float = 0.0, target_scale: float = 1.0):
    """Features standardised on the training rows; targets moved to (y - target_shift) / target_scale."""
    x, y = load_diabetes(return_X_y=True, scaled=False)
    order = np.random.default_rng(seed).permutation(len(y))
    train, test = order[test_size:], order[:test_size]
    mean, std = x[train].mean(0), x[train].std(0)
    x, y = (x - mean) / std, (y - target_shift) / target_scale
    return Patients(x[train], y[train]), Patients(x[test], y[test])
