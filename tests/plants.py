"""Planted bugs: models, data and tasks that each gate exists to catch. Used by the tests via _target_."""
from __future__ import annotations

import os
from dataclasses import dataclass

import signal
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from saneloop.datasets import digits, tiny_shakespeare
from saneloop.models import MLP, CharTransformer
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

    def __init__(self, *args, scale: float = 100.0, **kwargs):
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


# --- Planted bugs for the gates of issue 3 (every tip a gate or a picture) ---------------------------

def shuffled_digits(train_labels: bool = True, test_labels: bool = False, test_size: int = 449,
                    split_seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Bug: labels permuted apart from their inputs (in the training set, the test set, or both)."""
    train, test = digits(test_size=test_size, split_seed=split_seed)
    gen = torch.Generator().manual_seed(123)

    def shuffled(ds: TensorDataset, on: bool) -> TensorDataset:
        x, y = ds.tensors
        return TensorDataset(x, y[torch.randperm(len(y), generator=gen)] if on else y)
    return shuffled(train, train_labels), shuffled(test, test_labels)


class NoisyItems(torch.utils.data.Dataset):
    """A dataset whose __getitem__ adds random noise: a random transform left on."""

    def __init__(self, dataset, scale: float = 0.05) -> None:
        self.dataset, self.scale = dataset, scale

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        x, y = self.dataset[i]
        return x + self.scale * torch.randn_like(x), y


def noisy_digits(test_size: int = 449, split_seed: int = 0):
    """Bug: the training items carry a random transform while augmentation is off."""
    train, test = digits(test_size=test_size, split_seed=split_seed)
    return NoisyItems(train), test


class TimeMajorNet(nn.Module):
    """Reads a digit's 8 rows as a sequence, time-major [T, B, C] as RNN code does, then flattens.

    Bug (permute=False): `h.reshape(B, -1)` on the [T, B, C] tensor instead of permuting to
    [B, T, C] first, so each sample's features come from other samples.
    """

    def __init__(self, in_features: int, out_features: int, hidden: int = 16, depth: int = 1,
                 dropout: float = 0.0, permute: bool = True) -> None:
        super().__init__()
        self.permute = permute
        self.row = nn.Linear(8, hidden)
        self.head = nn.Linear(8 * hidden, out_features)

    def forward(self, x):
        rows = x.reshape(len(x), 8, 8).transpose(0, 1)  # [T, B, 8]
        h = torch.relu(self.row(rows))  # [T, B, hidden]
        flat = h.permute(1, 0, 2).reshape(len(x), -1) if self.permute else h.reshape(len(x), -1)
        return self.head(flat)


class BatchStandardizedMLP(MLP):
    """Bug: inputs standardised with the batch's own mean and std inside forward."""

    def forward(self, x):
        x = x.flatten(1)
        return super().forward((x - x.mean(0)) / (x.std(0) + 1e-5))


class BatchSoftmaxMLP(MLP):
    """Bug: a softmax over the batch axis (what F.softmax(h) without dim= picks on a 3-D tensor)."""

    def forward(self, x):
        h = self.body(x)
        h = F.softmax(h.reshape(len(h), 16, -1), dim=0).reshape(len(h), -1)
        return self.head(h)


class BatchNormDropoutMLP(nn.Module):
    """Clean: BatchNorm and Dropout mix and randomise the batch in training, by design."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 128, depth: int = 2,
                 dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_features)

    def forward(self, x):
        return self.head(self.body(x))


class DetachedBodyMLP(MLP):
    """Bug: the body's output is detached, so only the head ever learns."""

    def forward(self, x):
        return self.head(self.body(x).detach())


class EvalDropoutMLP(MLP):
    """Bug: functional dropout without training=self.training, so it also runs at eval."""

    def forward(self, x):
        return self.head(F.dropout(self.body(x), 0.1))


class RowPoolNet(nn.Module):
    """Attention pooling over a digit's 8 rows, with the loopy reference it was vectorized from.

    Bug (transposed=True): the vectorized forward weights the columns instead of the rows; the
    shapes match (8x8), so nothing crashes, and samples stay independent.
    """

    def __init__(self, in_features: int, out_features: int, hidden: int = 32, depth: int = 1,
                 dropout: float = 0.0, transposed: bool = False) -> None:
        super().__init__()
        self.transposed = transposed
        self.score = nn.Linear(8, 1)
        self.body = nn.Sequential(nn.Linear(8, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, out_features)

    def forward(self, x):
        rows = x.reshape(len(x), 8, 8)
        weights = self.score(rows).squeeze(-1).softmax(-1)  # [B, 8], one weight per row
        pooled = (weights.unsqueeze(-1) * (rows.transpose(1, 2) if self.transposed else rows)).sum(1)
        return self.head(self.body(pooled))

    def reference_forward(self, x):
        """The obvious loop: for each sample, for each row, add weight * row."""
        out = []
        for image in x.reshape(len(x), 8, 8):
            weights = self.score(image).squeeze(-1).softmax(-1)
            pooled = sum(weights[r] * image[r] for r in range(8))
            out.append(self.head(self.body(pooled)))
        return torch.stack(out)


# --- A tiny causal sequence task: predict each position's previous token ----------------------

def sequences(n: int = 512, length: int = 12, vocab: int = 8, test_size: int = 128, split_seed: int = 0):
    """Token sequences [T] and per-position targets: the previous token (position 0: token 0)."""
    gen = torch.Generator().manual_seed(split_seed)
    x = torch.randint(0, vocab, (n, length), generator=gen)
    y = torch.cat([torch.zeros(n, 1, dtype=torch.long), x[:, :-1]], dim=1)
    return TensorDataset(x[test_size:], y[test_size:]), TensorDataset(x[:test_size], y[:test_size])


@dataclass
class PerPositionClassify(Classify):
    """Classify every position of a sequence: logits [B, T, C], targets [B, T]; causal."""

    causal: bool = True

    def loss(self, output, target):
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    def output_problem(self, output, batch_size):
        ok = isinstance(output, torch.Tensor) and output.dim() == 3 and output.shape[0] == batch_size \
            and output.shape[-1] == self.num_classes
        return None if ok else f"expected logits [B, T, {self.num_classes}]"

    def target_problems(self, targets):
        return super().target_problems(targets.reshape(-1))

    def prior_gap(self, mean_prediction, train_targets):
        return super().prior_gap(mean_prediction.reshape(-1, mean_prediction.shape[-1]), train_targets)

    def metrics(self, outputs, targets):
        return super().metrics(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))


class TinyCausalLM(nn.Module):
    """Token and position embeddings, one masked self-attention layer, a linear head per position.

    Bug (mask_offset=1): `tril(ones, diagonal=1)` lets position t attend to t+1.
    """

    def __init__(self, out_features: int, hidden: int = 32, vocab: int = 8, length: int = 12,
                 mask_offset: int = 0) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, hidden)
        self.positions = nn.Parameter(0.02 * torch.randn(length, hidden))
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.register_buffer("mask", torch.tril(torch.ones(length, length), diagonal=mask_offset).bool())
        self.head = nn.Linear(hidden, out_features)

    def forward(self, tokens):
        h = self.tokens(tokens) + self.positions[: tokens.shape[1]]
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        scores = (q @ k.transpose(1, 2)) / q.shape[-1] ** 0.5
        T = tokens.shape[1]
        scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))
        return self.head(h + scores.softmax(-1) @ v)

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
        if self.training and _called_from(self.signal_in):  # training steps, not the watch's eval passes
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
