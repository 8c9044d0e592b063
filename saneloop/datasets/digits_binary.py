"""One digit against the rest, from the bundled digits: a real, imbalanced (about 1:9) binary set."""

from __future__ import annotations

from torch.utils.data import TensorDataset

from .digits import digits


def digits_binary(positive: int = 0, test_size: int = 449, split_seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """(image [1, 8, 8], target 1.0 if the digit is `positive` else 0.0) pairs; same split as classify."""
    if not 0 <= positive <= 9:
        raise ValueError(f"data.positive must be a digit 0-9, got {positive}")
    train, test = digits(test_size=test_size, split_seed=split_seed)
    (x_train, y_train), (x_test, y_test) = train.tensors, test.tensors
    return TensorDataset(x_train, (y_train == positive).float()), TensorDataset(x_test, (y_test == positive).float())
