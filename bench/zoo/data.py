"""The zoo's data: scikit-learn's bundled tables, and generated sets whose structure is known.

Every function returns (train, test) TensorDatasets, split by `split_seed` (never by the run's
seed), features standardised with the training split's statistics. Nothing here is downloaded:
the tables are read from the files scikit-learn ships (as saneloop.datasets reads digits), and
the rest is drawn from a fixed generator.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import TensorDataset

from saneloop.datasets._sklearn_files import sklearn_data_file
from saneloop.datasets.digits import load_digits_arrays, seeded_split

TABLES = {"iris": "iris.csv", "wine": "wine_data.csv", "breast_cancer": "breast_cancer.csv"}


def _split(x: np.ndarray, y: np.ndarray, test_size: int, split_seed: int, standardise: bool = True):
    train_idx, test_idx = seeded_split(len(y), test_size, split_seed)
    x = x.astype(np.int64 if np.issubdtype(x.dtype, np.integer) else np.float32)  # token ids stay ids
    if standardise:
        flat = x.reshape(len(x), -1)
        mean, std = flat[train_idx].mean(0), flat[train_idx].std(0)
        x = ((flat - mean) / np.where(std > 0, std, 1.0)).reshape(x.shape).astype(np.float32)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return TensorDataset(xt[train_idx], yt[train_idx]), TensorDataset(xt[test_idx], yt[test_idx])


def load_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and integer labels of a table scikit-learn ships (its first line is a header)."""
    raw = np.loadtxt(sklearn_data_file(TABLES[name]), delimiter=",", skiprows=1, dtype=np.float64)
    return raw[:, :-1], raw[:, -1].astype(np.int64)


def table(name: str, test_size: int = 40, split_seed: int = 0, positive: int | None = None):
    """A bundled table's classes ([C] logits), or one class against the rest (`positive`: 0/1 floats)."""
    x, y = load_table(name)
    if positive is not None:
        return _split(x, (y == positive).astype(np.float32), test_size, split_seed)
    return _split(x, y, test_size, split_seed)


def table_column(
    name: str, column: int, test_size: int = 45, split_seed: int = 0, target_shift: float = 0.0, target_scale=1.0
):
    """Regress one column of a bundled table from the others, in the column's own units (raw by default)."""
    x, _ = load_table(name)
    y = ((x[:, column] - target_shift) / target_scale).astype(np.float32)
    return _split(np.delete(x, column, axis=1), y, test_size, split_seed)


def digits_subset(train_size: int = 300, test_size: int = 40, split_seed: int = 0, value: bool = False):
    """The bundled digits as [1, 8, 8] images, cut down to `train_size` + `test_size` examples.

    `value`: regress the digit's value (0..9, raw units) instead of classifying it."""
    pixels, labels = load_digits_arrays()
    keep = np.random.default_rng(split_seed + 1).permutation(len(labels))[: train_size + test_size]
    images = (pixels[keep] / 16.0).reshape(-1, 1, 8, 8)
    y = labels[keep].astype(np.float32) if value else labels[keep]
    return _split(images, y, test_size, split_seed, standardise=False)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)


def blobs(
    n: int = 5000,
    classes: int = 10,
    dim: int = 16,
    test_size: int = 1000,
    separation: float = 2.0,
    zipf: float = 0.0,
    min_count: int = 4,
    split_seed: int = 0,
):
    """Gaussian classes: means drawn N(0, separation^2) per dimension, unit noise around them.

    `zipf` > 0: class k has weight 1/(k+1)^zipf (imbalanced), every class at least `min_count` times."""
    rng = _rng(split_seed)
    weights = 1.0 / np.arange(1, classes + 1) ** zipf
    counts = np.maximum(min_count, np.round(n * weights / weights.sum())).astype(int)
    y = np.repeat(np.arange(classes), counts)
    means = rng.normal(0, separation, (classes, dim))
    x = means[y] + rng.normal(0, 1, (len(y), dim))
    return _stratified(x, y, test_size / len(y), rng)


def _stratified(x: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator):
    """Every class split in the same proportion, with at least two of each class in training."""
    test = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        take = min(int(round(len(idx) * fraction)), len(idx) - 2)
        test.extend(idx[:take])
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[test] = True
    x = x.astype(np.float32)
    mean, std = x[~test_mask].mean(0), x[~test_mask].std(0)
    x = (x - mean) / std
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return TensorDataset(xt[~test_mask], yt[~test_mask]), TensorDataset(xt[test_mask], yt[test_mask])


def rare_positives(n: int = 10000, rate: float = 0.02, dim: int = 8, test_size: int = 2000, split_seed: int = 0):
    """Binary: positives (a `rate` of the set) sit 2.5 standard deviations away along a hidden direction."""
    rng = _rng(split_seed)
    y = (rng.random(n) < rate).astype(np.float32)
    direction = rng.normal(0, 1, dim)
    x = rng.normal(0, 1, (n, dim)) + 2.5 * y[:, None] * direction / np.linalg.norm(direction)
    return _split(x, y, test_size, split_seed)


def noisy_target(
    n: int = 10000,
    dim: int = 8,
    noise: float = 0.9,
    test_size: int = 2000,
    mean: float = 0.0,
    std: float = 1.0,
    target_shift: float = 0.0,
    target_scale: float = 1.0,
    split_seed: int = 0,
):
    """A target with the given `mean` and `std` of which a `noise` share of the variance is noise:
    y = mean + std * (sqrt(1 - noise) * s(x) + sqrt(noise) * e), trained as (y - target_shift) / target_scale.

    s(x) is a smooth function of the inputs with unit variance (a linear part and a tanh bump)."""
    rng = _rng(split_seed)
    x = rng.normal(0, 1, (n, dim))
    w = rng.normal(0, 1, dim)
    s = x @ w / np.linalg.norm(w) + np.tanh(2 * x[:, 0] * x[:, 1])
    s = (s - s.mean()) / s.std()
    y = mean + std * (math.sqrt(1 - noise) * s + math.sqrt(noise) * rng.normal(0, 1, n))
    return _split(x, ((y - target_shift) / target_scale).astype(np.float32), test_size, split_seed)


def friedman(
    n: int = 2000, noise: float = 1.0, test_size: int = 400, target_shift=0.0, target_scale=1.0, split_seed: int = 0
):
    """Friedman #1, in its raw units by default (mean ~14, variance ~24): 10 sin(pi x1 x2) + 20 (x3 - .5)^2
    + 10 x4 + 5 x5 + noise; (y - target_shift) / target_scale."""
    rng = _rng(split_seed)
    x = rng.random((n, 10))
    y = 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]
    y = (y + noise * rng.normal(0, 1, n) - target_shift) / target_scale
    return _split(x, y.astype(np.float32), test_size, split_seed)


def sorted_test(source: str, **kwargs):
    """A source's data with its test set sorted by target, as a folder-per-class dataset lists it: correct
    data that a gate reading the first test examples would see one class of."""
    from hydra.utils import get_method

    train, test = get_method(source)(**kwargs)
    x, y = test.tensors
    order = torch.argsort(y.reshape(len(y), -1)[:, 0], stable=True)
    return train, TensorDataset(x[order], y[order])
