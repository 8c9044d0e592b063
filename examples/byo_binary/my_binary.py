"""A user's own binary classifier: malignant (1) against benign (0) tumours, scikit-learn's breast cancer set."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from torch import nn
from torch.utils.data import TensorDataset


class SmallNet(nn.Module):
    """30 features -> hidden -> one logit per sample, shape [B]."""

    def __init__(self, in_features: int, hidden: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.logit = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit(self.body(x)).squeeze(-1)


def tumours(test_size: int = 170, seed: int = 0):
    """(features [30] standardised on the training rows, 0/1 integer label) pairs; 37% malignant."""
    x, y = load_breast_cancer(return_X_y=True)
    malignant = (y == 0).astype(np.int64)  # scikit-learn codes malignant as 0
    order = np.random.default_rng(seed).permutation(len(y))
    train, test = order[test_size:], order[:test_size]
    x = (x - x[train].mean(0)) / x[train].std(0)
    as_set = lambda i: TensorDataset(torch.tensor(x[i], dtype=torch.float32), torch.tensor(malignant[i]))
    return as_set(train), as_set(test)
