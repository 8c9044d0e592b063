"""Planted bugs in the data splits (the split gates, issue 14): splits that overlap or differ, targets that
leak among the inputs, and targets ignored unevenly across micro-batches; with the clean counterparts the
tests need."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from saneloop.datasets import tiny_shakespeare
from saneloop.datasets.diabetes import load_diabetes_arrays
from saneloop.datasets.digits import seeded_split
from saneloop.datasets.shakespeare import VOCAB, encode, read_text, windows
from saneloop.tasks import Classify

from .data import _source

# --- data: splits ---------------------------------------------------------------------------------


def resplit(source: str, **kwargs):
    """Bug #5: the split made twice: the test set comes from a second random split (another seed), so
    about as many test items as the training share are training items too."""
    train, _ = _source(source, **kwargs)
    seed = kwargs.pop("split_seed", 0)
    _, test = _source(source, split_seed=seed + 1, **kwargs)
    return train, test


def resplit_windows(block_size: int = 64, test_fraction: float = 0.1, vocab: str = VOCAB):
    """Bug #5 for text: windows shuffled and split twice (two seeds): test windows are training windows."""
    tokens = encode(read_text(), vocab)
    data = windows(tokens, block_size)
    x, y = data.tensors
    cut = int(len(x) * (1 - test_fraction))
    first = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    second = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    return TensorDataset(x[first[:cut]], y[first[:cut]]), TensorDataset(x[second[cut:]], y[second[cut:]])


def near_copies(source: str, fraction: float = 0.5, noise: float = 0.01, **kwargs):
    """Bug: re-encoded copies of training items in the test set: a `fraction` of test items replaced by
    training items plus noise of `noise` x each feature's standard deviation. Half, as a test file drawn
    from the training file makes it (10%, as real data may carry, is judged by its effect: contamination)."""
    train, test = _source(source, **kwargs)
    (x, y), (xt, yt) = train.tensors, test.tensors
    count = max(1, int(fraction * len(xt)))
    gen = torch.Generator().manual_seed(7)
    picks = torch.randperm(len(x), generator=gen)[:count]
    xt, yt = xt.clone(), yt.clone()
    xt[:count] = x[picks] + noise * x.std(0) * torch.randn(x[picks].shape, generator=gen)
    yt[:count] = y[picks]
    return train, TensorDataset(xt, yt)


def test_scaled(source: str, scale: float = 16.0, **kwargs):
    """Bug: the test split skipped a scaling step (digits: pixels 0..16, training 0..1)."""
    train, test = _source(source, **kwargs)
    xt, yt = test.tensors
    return train, TensorDataset(xt * scale, yt)


def raw_test_units(
    test_size: int = 111, split_seed: int = 0, target_shift: float = 0.0, target_scale: float = 1.0, val_size: int = 0
):
    """Bug: diabetes with the training split standardised and the test split left in clinical units. The
    data config's `val_size` is taken and left out: the run carves validation from this training split."""
    features, targets = load_diabetes_arrays()
    train_idx, test_idx = seeded_split(len(targets), test_size, split_seed)
    x = torch.from_numpy(features).float()
    y = torch.from_numpy((targets - target_shift) / target_scale).float()
    mean, std = x[train_idx].mean(0), x[train_idx].std(0, correction=0)
    return TensorDataset((x[train_idx] - mean) / std, y[train_idx]), TensorDataset(x[test_idx], y[test_idx])


def other_vocab_test(block_size: int = 64, test_fraction: float = 0.1, vocab: str = VOCAB):
    """Bug: the test text encoded with another vocab (the characters in another order): other ids."""
    train, _ = tiny_shakespeare(block_size=block_size, test_fraction=test_fraction, vocab=vocab)
    text = read_text()
    test_text = text[int(len(text) * (1 - test_fraction)) :]
    return train, windows(encode(test_text, vocab[::-1]), block_size)


def onehot_leak(source: str, **kwargs):
    """Bug: the label leaks spread over features: pixel c is 1 exactly when the label is c (a one-hot
    label column kept among the inputs). No single pixel predicts the label; a linear layer does."""
    out = []
    for ds in _source(source, **kwargs):
        x, y = ds.tensors
        x = x.clone()
        flat = x.view(len(x), -1)
        classes = int(y.max()) + 1
        flat[:, :classes] = F.one_hot(y.long(), classes).float()
        out.append(TensorDataset(x, y))
    return tuple(out)


def ignored_targets(source: str, **kwargs):
    """Targets with ignore_index -100 (not a bug: padding, prompt tokens): every other example of the
    first half of the training set, so micro-batches hold uneven numbers of targets."""
    train, test = _source(source, **kwargs)
    x, y = train.tensors
    y = y.clone()
    idx = torch.arange(len(y))
    y[(idx < len(y) // 2) & (idx % 2 == 0)] = -100
    return TensorDataset(x, y), test


class IgnoringClassify(Classify):
    """Classification whose targets may hold -100 (ignored: cross-entropy's ignore_index), averaged per batch."""

    def target_problems(self, targets):
        return super().target_problems(targets[targets != -100])

    def _counts(self, targets):
        return super()._counts(targets[targets != -100])

    def metrics(self, outputs, targets):
        keep = targets != -100
        return super().metrics(outputs[keep], targets[keep])


def sum_leak(source: str, **kwargs):
    """Bug: the target is computed from the inputs by a fixed rule (two columns that add up to it, as a
    total kept beside its parts): no single column predicts it, their sum does exactly."""
    gen = torch.Generator().manual_seed(11)
    out = []
    for ds in _source(source, **kwargs):
        x, y = ds.tensors
        x, part = x.clone(), torch.randn(len(y), generator=gen) * y.std()  # as spread as the target
        x[:, 0], x[:, 1] = y / 2 + part, y / 2 - part
        out.append(TensorDataset(x, y))
    return tuple(out)


def remembered_copies(source: str, copies: int = 60, **kwargs):
    """Bug: test items copied from training items whose labels only memory can give (random labels, in both
    splits), 13% of the digits test set: under split_overlap's bar; a model that memorises its training set
    scores them from memory (the contamination gate)."""
    train, test = _source(source, **kwargs)
    (x, y), (xt, yt) = train.tensors, test.tensors
    gen = torch.Generator().manual_seed(5)
    picks = torch.randperm(len(x), generator=gen)[:copies]
    y, xt, yt = y.clone(), xt.clone(), yt.clone()
    y[picks] = (y[picks] + torch.randint(1, int(y.max()) + 1, (copies,), generator=gen)) % (int(y.max()) + 1)
    xt[:copies], yt[:copies] = x[picks], y[picks]
    return TensorDataset(x, y), TensorDataset(xt, yt)
