"""Regression statistics per output: R^2 and its bootstrap standard error, errors in the original units,
the mean predictor's scores, and the per-output settings (`target_shift`, `target_scale`, names).

Every statistic is taken column by column on 1-D tensors, so a task of one output computes exactly what
it always did; a task of k outputs reports each output by its name and, as the headline, the mean R^2
(scale-free: an output in units of 10,000 weighs no more than one in units of 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional

import torch

BOOTSTRAP = 1000  # resamples behind the standard error of R^2
SPREAD_NOTE = 100.0  # outputs whose target spreads differ by more than this factor get a note (standardise)


def per_output(value: Any, outputs: int, key: str) -> list[float]:
    """A config value given once for every output (a number) or once per output (a list of `outputs`
    numbers), as a list of `outputs` floats; a ValueError naming `key` otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)] * outputs
    try:
        values = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number or a list of {outputs} numbers, got {value!r}") from None
    if len(values) != outputs:
        raise ValueError(
            f"{key} has {len(values)} values ({values}) but task.outputs={outputs}: give one per output, or one number"
        )
    return values


def output_names(names: Optional[Sequence[Any]], outputs: int) -> list[str]:
    """The outputs' names in metric keys (`r2_<name>`): the given ones, else 0, 1, ..."""
    if names is None:
        return [str(j) for j in range(outputs)]
    named = [str(n) for n in names]
    if len(named) != outputs or len(set(named)) != outputs or not all(named):
        raise ValueError(f"task.output_names must be {outputs} distinct non-empty names (task.outputs={outputs})")
    return named


def columns(values: torch.Tensor, outputs: int) -> torch.Tensor:
    """Values [N], [N, 1] or [N, k] as [N, k] (float64 on the CPU): one column per output."""
    return values.detach().double().cpu().reshape(-1, outputs)


def r2(pred: torch.Tensor, true: torch.Tensor) -> float:
    total = float(((true - true.mean()) ** 2).sum())
    return 1.0 - float(((pred - true) ** 2).sum()) / total if total > 0 else math.nan


def bootstrap_se(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Standard error of R^2 (of the mean R^2 over outputs, for [N, k]) over test-set resamples (a fixed
    generator: the same numbers every run)."""
    if len(true) < 3:
        return math.nan
    picks = torch.randint(len(true), (BOOTSTRAP, len(true)), generator=torch.Generator().manual_seed(0))
    p, t = pred[picks], true[picks]
    total = ((t - t.mean(1, keepdim=True)) ** 2).sum(1)
    scores = 1.0 - ((p - t) ** 2).sum(1) / total.clamp_min(1e-12)
    return float(scores.mean(1).std() if scores.dim() > 1 else scores.std())


def output_metrics(pred: torch.Tensor, true: torch.Tensor, scales: list[float], names: list[str]) -> dict[str, float]:
    """Per output (columns of [N, k]): R^2, and RMSE and MAE in the original units; the mean R^2 as `r2`
    and its standard error; the loss (the mean squared error over every output, as training computes it)."""
    found: dict[str, float] = {}
    for j, name in enumerate(names):
        err = (pred[:, j] - true[:, j]) * scales[j]
        found[f"r2_{name}"] = r2(pred[:, j], true[:, j])
        found[f"rmse_{name}"] = float(err.pow(2).mean().sqrt())
        found[f"mae_{name}"] = float(err.abs().mean())
    each = [found[f"r2_{name}"] for name in names]
    return {
        "loss": float(((pred - true) ** 2).mean()),
        "r2": sum(each) / len(each),
        "r2_se": bootstrap_se(pred, true),
        **found,
        "count": len(true),
    }


def mean_predictor(means: list[float], true: torch.Tensor, scales: list[float], names: list[str]) -> dict[str, float]:
    """The training mean predicted for every test sample, per output; `mean_r2` (the mean over outputs) is
    the baseline the headline is compared with."""
    found: dict[str, float] = {}
    for j, name in enumerate(names):
        guess = torch.full_like(true[:, j], means[j])
        err = (guess - true[:, j]) * scales[j]
        found[f"mean_r2_{name}"] = r2(guess, true[:, j])
        found[f"mean_rmse_{name}"] = float(err.pow(2).mean().sqrt())
        found[f"mean_mae_{name}"] = float(err.abs().mean())
    return {"mean_r2": sum(found[f"mean_r2_{n}"] for n in names) / len(names), **found}


def spread_note(variances: list[float], names: list[str]) -> str:
    """A note when the outputs' spreads (in the units the loss sees) differ by more than SPREAD_NOTE times:
    the mean squared error is then the widest output's, and every loss-based gate judges mostly that one."""
    spreads = [math.sqrt(max(v, 0.0)) for v in variances]
    low, high = min(spreads), max(spreads)
    if low > 0 and high / low <= SPREAD_NOTE:
        return ""
    wide, narrow = names[spreads.index(high)], names[spreads.index(low)]
    return (
        f"; the outputs' spreads differ by {high / low if low > 0 else math.inf:.3g}x (output {wide}: sd {high:.4g}, "
        f"output {narrow}: sd {low:.4g}), so the mean squared error is mostly output {wide}'s: standardise the "
        "targets per output in the data and declare it with data.target_shift / data.target_scale (one per output)"
    )
