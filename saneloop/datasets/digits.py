"""The handwritten digits bundled with scikit-learn: 1,797 8x8 images, 10 classes, offline."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ._sklearn_files import sklearn_data_file


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Pixels (1797, 64) in 0..16 and labels (1797,), read from scikit-learn's copy."""
    raw = np.loadtxt(sklearn_data_file("digits.csv.gz"), delimiter=",", dtype=np.float32)
    return raw[:, :-1], raw[:, -1].astype(np.int64)


def seeded_split(n: int, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a fixed random train/test split; the same seed always gives the same split."""
    if not 0 < test_size < n:
        raise ValueError(f"data.test_size must be in (0, {n}), got {test_size}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[test_size:]), np.sort(order[:test_size])


def digits(test_size: int = 449, split_seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Train and test sets of (image [1, 8, 8] scaled to [0, 1], label) pairs.

    The split depends on `split_seed` only, not on the run's seed, so every run of a sweep is
    judged on the same test set.
    """
    pixels, labels = load_digits_arrays()
    images = torch.from_numpy(pixels / 16.0).float().reshape(-1, 1, 8, 8)
    targets = torch.from_numpy(labels)
    train_idx, test_idx = seeded_split(len(targets), test_size, split_seed)
    return (TensorDataset(images[train_idx], targets[train_idx]), TensorDataset(images[test_idx], targets[test_idx]))
