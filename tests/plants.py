"""Planted bugs: models, data and tasks that each gate exists to catch. Used by the tests via _target_."""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from saneloop.datasets import digits
from saneloop.models import MLP
from saneloop.tasks import Classify


def planted_digits(shift_labels: int = 0, drop_class: int | None = None, nan_at: tuple[int, ...] = (),
                   float_targets: bool = False, keep_per_minor_class: int | None = None,
                   test_size: int = 449, split_seed: int = 0,
                   nan_on_process: int | None = None) -> tuple[TensorDataset, TensorDataset]:
    """The default digits with one planted data bug (`nan_on_process`: only that process's copy of
    the data has the NaNs of `nan_at`, as when one machine reads a corrupted file)."""
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
    for i in nan_at if nan_on_process in (None, _process()) else ():
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


def _process() -> int:
    return int(os.environ.get("RANK", "0"))


class CrashOnProcessMLP(MLP):
    """A crash in evaluation on one process only: process `process` (0 in a one-process run) raises
    in its evaluation pass (eval mode, a batch of more than 100; the gates' probe batches hold 64)."""

    def __init__(self, *args, process: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.process = process

    def forward(self, x):
        if _process() == self.process and not self.training and len(x) > 100:
            raise RuntimeError(f"planted crash on process {self.process}")
        return super().forward(x)
