"""Planted bugs: models, data and tasks that each gate exists to catch. Used by the tests via _target_."""
from __future__ import annotations

import os
import signal
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from saneloop.datasets import digits
from saneloop.models import MLP
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


class SlowMLP(MLP):
    """Not a bug: the default MLP, slowed down so a test can signal it mid-train (same numbers)."""

    def __init__(self, *args, delay: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.delay = delay

    def forward(self, x):
        if self.delay:
            time.sleep(self.delay)
        return super().forward(x)


def one_dataset(**digits_args) -> TensorDataset:
    """Bug: the data callable returns one dataset instead of (train, test)."""
    return digits(**digits_args)[0]


def empty_train(**digits_args) -> tuple[TensorDataset, TensorDataset]:
    """Bug: a filter that drops every training example."""
    train, test = digits(**digits_args)
    x, y = train.tensors
    return TensorDataset(x[:0], y[:0]), test


def unpaired_items(**digits_args) -> tuple[TensorDataset, TensorDataset]:
    """Bug: items are (input, target, weight) triples, not (input, target) pairs."""
    train, test = digits(**digits_args)
    x, y = train.tensors
    return TensorDataset(x, y, torch.ones(len(y))), test


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def ragged_inputs(**digits_args) -> tuple[_ListDataset, TensorDataset]:
    """Bug: images of two sizes in one set, which the default collate cannot stack."""
    train, test = digits(**digits_args)
    x, y = train.tensors
    items = [(x[i] if i % 2 else torch.nn.functional.pad(x[i], (0, 1, 0, 1)), y[i]) for i in range(64)]
    return _ListDataset(items), test


def die_halfway_through_checkpoint(after: int, marker: str) -> None:
    """The machine's fault, not the code's: the process is killed while it writes checkpoint
    number `after + 1`. This writes half of its bytes, then creates `marker` and waits to be
    killed (run in a subprocess that the test SIGKILLs)."""
    import io
    from pathlib import Path

    from saneloop import checkpoint
    real, calls = checkpoint._dump, []

    def dump(payload, handle):
        calls.append(1)
        if len(calls) <= after:
            return real(payload, handle)
        buffer = io.BytesIO()
        real(payload, buffer)
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        handle.flush()
        os.fsync(handle.fileno())
        Path(marker).touch()
        time.sleep(600)

    checkpoint._dump = dump


class SignalMLP(MLP):
    """Not a bug: a signal arrives mid-run. At its `signal_at`-th forward call made from inside the
    function named `signal_in` (e.g. `_fit`, the train loop), the model signals its own process."""

    def __init__(self, *args, signal_in: str = "_fit", signal_at: int = 10, signal_name: str = "SIGINT",
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.signal_in, self.signal_at, self.signal_name, self.calls = signal_in, signal_at, signal_name, 0

    def forward(self, x):
        if _called_from(self.signal_in):
            self.calls += 1
            if self.calls == self.signal_at:
                os.kill(os.getpid(), getattr(signal, self.signal_name))
        return super().forward(x)


class CrashInEvalMLP(MLP):
    """Bug: the model breaks in evaluation (e.g. a code path only eval mode takes)."""

    def forward(self, x):
        if not self.training and _called_from("predict_all"):
            raise RuntimeError("planted crash in evaluate")
        return super().forward(x)


def _called_from(function: str) -> bool:
    """Is a function of this name on the call stack (e.g. `_fit`: the train loop)?"""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != function:
        frame = frame.f_back
    return frame is not None
