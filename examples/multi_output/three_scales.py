"""A user's multi-output regression: three measurements per item on three physical scales, from 10 features.

Nothing saneloop-specific: a dataset function returning (train_dataset, test_dataset) of
(features [10], targets [3]) pairs. The targets are a small nonlinear function of the features plus
noise, on the scales of real readings (means 1, 150 and 10,000; spreads 0.5, 30 and 2,000).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import TensorDataset

MEANS = (1.0, 150.0, 10_000.0)
SPREADS = (0.5, 30.0, 2_000.0)


def three_scales(
    train_size: int = 600,
    test_size: int = 201,
    seed: int = 0,
    noise: float = 0.3,
    target_shift: float | Sequence[float] = 0.0,
    target_scale: float | Sequence[float] = 1.0,
) -> tuple[TensorDataset, TensorDataset]:
    """Features x ~ N(0, 1) [10]; targets y_j = MEANS[j] + SPREADS[j] * (f_j(x) + noise * e_j), stored as
    (y - target_shift) / target_scale, one shift and scale per output (or one for all)."""
    gen = torch.Generator().manual_seed(seed)
    n = train_size + test_size
    x = torch.randn(n, 10, generator=gen)
    signal = torch.stack(
        [x[:, 0] + 0.5 * x[:, 1] * x[:, 2], torch.tanh(x[:, 3] - x[:, 4]) * 1.5, x[:, 5:].sum(1) / 2], 1
    )
    signal = (signal - signal.mean(0)) / signal.std(0)
    y = torch.tensor(MEANS) + torch.tensor(SPREADS) * (signal + noise * torch.randn(n, 3, generator=gen))
    y = (y - torch.as_tensor(target_shift, dtype=torch.float32)) / torch.as_tensor(target_scale, dtype=torch.float32)
    x, y = x.float(), y.float()
    return TensorDataset(x[:train_size], y[:train_size]), TensorDataset(x[train_size:], y[train_size:])
