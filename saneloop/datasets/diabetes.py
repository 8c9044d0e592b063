"""The diabetes set bundled with scikit-learn: 442 patients, 10 features, a disease-progression target."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ._sklearn_files import sklearn_data_file
from .digits import seeded_split

FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def load_diabetes_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Raw features (442, 10) in their clinical units and targets (442,), from scikit-learn's copy."""
    features = np.loadtxt(sklearn_data_file("diabetes_data_raw.csv.gz"), dtype=np.float32)
    targets = np.loadtxt(sklearn_data_file("diabetes_target.csv.gz"), dtype=np.float32)
    return features, targets


def diabetes(
    test_size: int = 111,
    split_seed: int = 0,
    target_shift: float = 0.0,
    target_scale: float = 1.0,
    val_size: int = 0,
) -> tuple[TensorDataset, ...]:
    """Train and test sets of (features [10], target []) pairs; with `val_size` > 0, (train, val, test).

    Features are standardised with the training split's mean and standard deviation. Targets
    become `(y - target_shift) / target_scale`: a fixed change of units, the same for every split,
    which the regress task undoes to report RMSE and MAE in the original units. The validation rows
    come from the training side of the split, by the same `split_seed`.
    """
    if target_scale <= 0:
        raise ValueError(f"data.target_scale must be > 0, got {target_scale}")
    features, targets = load_diabetes_arrays()
    train_idx, test_idx = seeded_split(len(targets), test_size, split_seed)
    if not 0 <= val_size < len(train_idx):
        raise ValueError(f"data.val_size must be in [0, {len(train_idx)}), got {val_size}")
    order = np.random.default_rng(split_seed).permutation(train_idx)
    val_idx, train_idx = (np.sort(order[:val_size]), np.sort(order[val_size:])) if val_size else (None, train_idx)
    mean, std = features[train_idx].mean(0), features[train_idx].std(0)
    x = torch.from_numpy((features - mean) / std).float()
    y = torch.from_numpy((targets - target_shift) / target_scale).float()
    parts = [idx for idx in (train_idx, val_idx, test_idx) if idx is not None]
    return tuple(TensorDataset(x[idx], y[idx]) for idx in parts)
