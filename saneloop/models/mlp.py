"""A plain multi-layer perceptron: the default classify model."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """Flatten -> (Linear -> ReLU [-> Dropout]) x depth -> Linear head."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int = 256,
        depth: int = 2,
        dropout: float = 0.0,
        head_scale: float = 1.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_features)
        if head_scale != 1.0:  # small head weights: the first predictions are the bias set from the data
            with torch.no_grad():
                self.head.weight.mul_(head_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
