"""Planted data bugs: datasets whose items are wrong in the ways real data goes wrong.

Plants that wrap `source` (a dataset callable such as `saneloop.datasets.diabetes`) serve every
recipe; the recipe's own data arguments (test_size, split_seed, ...) pass through.
"""

from __future__ import annotations

import torch
from hydra.utils import get_method
from torch.utils.data import TensorDataset

from saneloop.datasets import digits, tiny_shakespeare

from .faults import _process


def planted_digits(
    shift_labels: int = 0,
    drop_class: int | None = None,
    nan_at: tuple[int, ...] = (),
    float_targets: bool = False,
    keep_per_minor_class: int | None = None,
    test_size: int = 449,
    split_seed: int = 0,
    nan_on_process: int | None = None,
) -> tuple[TensorDataset, TensorDataset]:
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


def _source(source: str, **kwargs):
    """The source's (train, test): the plants change one of the two. A validation set of the source's own
    (`val_size`, diabetes) is left out, so the run carves one from the planted training set."""
    kwargs.pop("val_size", None)
    return get_method(source)(**kwargs)


def shuffled(source: str, train: bool = True, test: bool = False, **kwargs):
    """Bug #1 / test misalignment: targets permuted apart from their inputs (train, test or both)."""
    gen = torch.Generator().manual_seed(123)
    out = []
    for ds, on in zip(_source(source, **kwargs), (train, test)):
        x, y = ds.tensors
        out.append(TensorDataset(x, y[torch.randperm(len(y), generator=gen)] if on else y))
    return tuple(out)


def partly_shuffled(source: str, fraction: float = 0.3, **kwargs):
    """Bug: the labels of a `fraction` of the training set permuted among themselves (a bad merge of two
    annotation files); the test set is left as it is."""
    train, test = _source(source, **kwargs)
    x, y = train.tensors
    gen = torch.Generator().manual_seed(321)
    picked = torch.randperm(len(y), generator=gen)[: int(fraction * len(y))]
    y = y.clone()
    y[picked] = y[picked[torch.randperm(len(picked), generator=gen)]]
    return TensorDataset(x, y), test


def rolled_test_targets(source: str, shift: int = 1, **kwargs):
    """Bug: test targets misaligned with their inputs by one row (a join or a filter applied off by one)."""
    train, test = _source(source, **kwargs)
    x, y = test.tensors
    return train, TensorDataset(x, torch.roll(y, shift, 0))


def with_constant_column(source: str, value: float = 1.0, **kwargs):
    """The source's inputs, flattened, with a constant column appended (an intercept column of a design
    matrix): correct data, for a model that reads only that column."""
    out = []
    for ds in _source(source, **kwargs):
        x, y = ds.tensors
        flat = x.reshape(len(x), -1)
        out.append(TensorDataset(torch.cat([flat, torch.full((len(x), 1), value)], 1), y))
    return tuple(out)


def shuffled_digits(train_labels: bool = True, test_labels: bool = False, **digits_args):
    """Bug: labels permuted apart from their inputs (in the training set, the test set, or both)."""
    return shuffled("saneloop.datasets.digits", train=train_labels, test=test_labels, **digits_args)


def shifted_targets(source: str, shift: float = 1, **kwargs):
    """Bug #2: labels 1..C instead of 0..C-1 (binary: {1, 2} instead of {0, 1})."""
    return tuple(TensorDataset(x, y + shift) for x, y in (d.tensors for d in _source(source, **kwargs)))


def zero_std_standardised(source: str, constant_feature: int | None = None, **kwargs):
    """Bug: features standardised by the training std with no epsilon; a feature constant in the training
    split (digits' always-blank corner pixels; `constant_feature`, e.g. a sensor that was off) divides 0 by 0."""
    train, test = _source(source, **kwargs)
    x, y = train.tensors
    xt, yt = test.tensors
    if constant_feature is not None:
        x, xt = x.clone(), xt.clone()
        x[:, constant_feature] = 1.0
        xt[:, constant_feature] = 1.0
    mean, std = x.mean(0), x.std(0)
    return TensorDataset((x - mean) / std, y), TensorDataset((xt - mean) / std, yt)


def leaked_target(source: str, **kwargs):
    """Bug #3: the target leaks into the input (first feature / pixel set to the label)."""
    out = []
    for ds in _source(source, **kwargs):
        x, y = ds.tensors
        x = x.clone()
        x.view(len(x), -1)[:, 0] = y.reshape(len(y), -1)[:, 0].float()
        out.append(TensorDataset(x, y))
    return tuple(out)


class NoisyItems(torch.utils.data.Dataset):
    """A dataset whose __getitem__ adds random noise: a random transform left on."""

    def __init__(self, dataset, scale: float = 0.05) -> None:
        self.dataset, self.scale = dataset, scale

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        x, y = self.dataset[i]
        return x + self.scale * torch.randn_like(x), y


def noisy(source: str, scale: float = 0.05, **kwargs):
    """Bug #13: a random transform left on in the dataset itself (train and test)."""
    return tuple(NoisyItems(d, scale) for d in _source(source, **kwargs))


def noisy_digits(**digits_args):
    """Bug: the training items carry a random transform while augmentation is off (test items do not)."""
    train, test = digits(**digits_args)
    return NoisyItems(train), test


def sequences(n: int = 512, length: int = 12, vocab: int = 8, test_size: int = 128, split_seed: int = 0):
    """Token sequences [T] and per-position targets: the previous token (position 0: token 0)."""
    gen = torch.Generator().manual_seed(split_seed)
    x = torch.randint(0, vocab, (n, length), generator=gen)
    y = torch.cat([torch.zeros(n, 1, dtype=torch.long), x[:, :-1]], dim=1)
    return TensorDataset(x[test_size:], y[test_size:]), TensorDataset(x[:test_size], y[:test_size])


def one_dataset(**digits_args) -> TensorDataset:
    """Bug: the data callable returns one dataset instead of (train, test)."""
    return digits(**digits_args)[0]


def empty_train(**digits_args) -> tuple[TensorDataset, TensorDataset]:
    """Bug: a filter that drops every training example."""
    train, test = digits(**digits_args)
    x, y = train.tensors
    return TensorDataset(x[:0], y[:0]), test


def unpaired_items(**digits_args) -> tuple[TensorDataset, TensorDataset]:
    """Bug: items hold the inputs only, (input,) without a target (a dataset built before the labels were joined)."""
    train, test = digits(**digits_args)
    x, _ = train.tensors
    return TensorDataset(x), test


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


def unshifted_shakespeare(**kwargs) -> tuple[TensorDataset, TensorDataset]:
    """Bug: language-model targets equal to the inputs instead of the next characters."""
    return tuple(TensorDataset(x, x.clone()) for x, _ in (d.tensors for d in tiny_shakespeare(**kwargs)))
