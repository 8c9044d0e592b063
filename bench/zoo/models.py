"""The zoo's models: correct, ordinary PyTorch, written the way their users write them.

Conv nets with each kind of normalisation, a residual net, recurrent nets (batch-first and
time-major), a transformer encoder and recurrent language models. None of them was tuned on the
gates; each has a plain `nn.Linear` head with a bias (or, for regression in wide units, a head that
knows the target's scale), and PyTorch's default init unless it says otherwise.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _norm(kind: str, channels: int, size: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(4, channels), channels)
    if kind == "layer":
        return nn.LayerNorm([channels, size, size])
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"model.norm must be batch, group, layer or none, got {kind!r}")


class ConvNet(nn.Module):
    """(conv 3x3 -> norm -> ReLU) x depth, then global average pooling (`pool=avg`) or flatten, then a head."""

    def __init__(
        self,
        in_channels: int,
        out_features: int,
        hidden: int = 16,
        depth: int = 2,
        norm: str = "batch",
        pool: str = "avg",
        image_size: int = 8,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(depth):
            layers += [nn.Conv2d(channels, hidden, 3, padding=1), _norm(norm, hidden, image_size), nn.ReLU()]
            channels = hidden
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1) if pool == "avg" else nn.Identity()
        flat = hidden if pool == "avg" else hidden * image_size * image_size
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(flat, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.pool(self.features(x)).flatten(1)))


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.conv2, self.bn2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(h)))


class ResNet(nn.Module):
    """A small ResNet: a stem conv, `blocks` BatchNorm residual blocks, global average pooling, a head."""

    def __init__(self, in_channels: int, out_features: int, hidden: int = 16, blocks: int = 2) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden))
        self.blocks = nn.Sequential(*(ResBlock(hidden) for _ in range(blocks)))
        self.head = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(torch.relu(self.stem(x)))
        return self.head(h.mean((2, 3)))


class ResMLP(nn.Module):
    """Residual MLP for tables: x + MLP(norm(x)) blocks (`norm`: layer or batch), optional dropout."""

    def __init__(
        self, in_features: int, out_features: int, hidden: int = 64, blocks: int = 2, norm: str = "layer", dropout=0.0
    ) -> None:
        super().__init__()
        self.inp = nn.Linear(in_features, hidden)
        make_norm = nn.LayerNorm if norm == "layer" else nn.BatchNorm1d
        self.blocks = nn.ModuleList(
            nn.Sequential(
                make_norm(hidden), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden)
            )
            for _ in range(blocks)
        )
        self.out_norm = make_norm(hidden)
        self.head = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x.flatten(1))
        for block in self.blocks:
            h = h + block(h)
        return self.head(self.out_norm(h))


class ScaledHead(nn.Module):
    """A linear head in the target's units: out = scale * (h . weight) + bias.

    A regressor of targets with a standard deviation of 77 (or 77,000) learns the same weights as
    one of standardised targets; the bias is the task's to set (the target mean)."""

    def __init__(self, in_features: int, scale: float) -> None:
        super().__init__()
        self.scale = float(scale)
        self.weight = nn.Parameter(torch.empty(1, in_features).uniform_(-1, 1) / math.sqrt(in_features))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.scale * (h @ self.weight.t()) + self.bias


class ScaledHeadMLP(nn.Module):
    """An MLP regressor whose head knows the target scale (e.g. the training targets' standard deviation)."""

    def __init__(self, in_features: int, scale: float, hidden: int = 64, depth: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = in_features
        for _ in range(depth):
            layers += [nn.Linear(size, hidden), nn.ReLU(), nn.Dropout(dropout)]
            size = hidden
        self.body = nn.Sequential(*layers)
        self.head = ScaledHead(size, scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))
