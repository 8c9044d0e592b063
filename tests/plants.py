"""Planted bugs: models, data and tasks that each gate exists to catch. Used by the tests via _target_."""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from saneloop.datasets import digits, tiny_shakespeare
from saneloop.models import MLP, CharTransformer
from saneloop.tasks import Classify


def planted_digits(shift_labels: int = 0, drop_class: int | None = None, nan_at: tuple[int, ...] = (),
                   float_targets: bool = False, keep_per_minor_class: int | None = None,
                   test_size: int = 449, split_seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """The default digits with one planted data bug."""
    train, test = digits(test_size=test_size, split_seed=split_seed)
    x, y = train.tensors
    x, y = x.clone(), y.clone() + shift_labels
    if drop_class is not None:
        keep = y != drop_class
        x, y = x[keep], y[keep]
    if keep_per_minor_class is not None:  # class 0 stays whole; every other class is cut down
        keep = torch.zeros_like(y, dtype=torch.bool)
        for c in y.unique():
            idx = (y == c).nonzero().flatten()
            keep[idx if c == 0 else idx[:keep_per_minor_class]] = True
        x, y = x[keep], y[keep]
    for i in nan_at:
        x[i, 0, 0, 0] = float("nan")
    if float_targets:
        y = y.float()
    return TensorDataset(x, y), test


class SoftmaxMLP(MLP):
    """Bug: softmax before a loss that expects logits."""

    def forward(self, x):
        return super().forward(x).softmax(-1)


class FrozenMLP(MLP):
    """Bug: everything frozen but the final bias, so the model cannot fit anything."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, p in self.named_parameters():
            p.requires_grad_(name == "head.bias")


class ScaledInitMLP(MLP):
    """Bug: final-layer weights initialised far too large."""

    def __init__(self, *args, scale: float = 10.0, **kwargs):
        super().__init__(*args, **kwargs)
        with torch.no_grad():
            self.head.weight.mul_(scale)


class NoBiasMLP(MLP):
    """A head without a bias: fine on balanced classes, wrong on imbalanced ones."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.head = nn.Linear(self.head.in_features, self.head.out_features, bias=False)


class OutputScaledMLP(MLP):
    """Bug: an output scale after the head, so the bias set from the data no longer gives the prior."""

    def forward(self, x):
        return 10 * super().forward(x)


class UnseededNoiseMLP(MLP):
    """Bug: noise from a generator seeded by the OS, not by the run's seed."""

    def forward(self, x):
        gen = torch.Generator().manual_seed(int.from_bytes(os.urandom(4), "little"))
        return super().forward(x + 0.1 * torch.randn(x.shape, generator=gen))


class SummedLossClassify(Classify):
    """Bug: the loss is summed over the batch instead of averaged."""

    def loss(self, output, target):
        return F.cross_entropy(output, target, reduction="sum")


class DoubleSigmoidMLP(MLP):
    """Bug: a sigmoid before BCE-with-logits, which applies its own (probabilities passed as logits)."""

    def forward(self, x):
        return torch.sigmoid(super().forward(x))


class LeakyMaskTransformer(CharTransformer):
    """Bug: the causal mask is off by one, so position t also attends to t+1 (the token it must predict)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, mask_diagonal=1, **kwargs)


def unshifted_shakespeare(**kwargs) -> tuple[TensorDataset, TensorDataset]:
    """Bug: language-model targets equal to the inputs instead of the next characters."""
    return tuple(TensorDataset(x, x.clone()) for x, _ in (d.tensors for d in tiny_shakespeare(**kwargs)))


class LastTokenTransformer(CharTransformer):
    """Bug for the language-model task: only the last position's logits [B, V], not [B, T, V]."""

    def forward(self, tokens):
        return super().forward(tokens)[:, -1]
