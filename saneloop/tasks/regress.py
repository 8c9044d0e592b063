"""Regression: one real-valued output per sample ([B] or [B, 1]), float targets, mean squared error."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .base import TargetProblem
from .views import BatchView, PredictionView, TableView

_BOOTSTRAP = 1000  # resamples behind the standard error of R^2


@dataclass
class Regress:
    """Regression of one value with MSE.

    The final bias starts at the training target mean, so the first prediction is the mean and
    the loss at init is the target variance. If the data changed the targets' units to
    `(y - target_shift) / target_scale` (standardised targets train better), the loss is in those
    units and RMSE and MAE are reported back in the original ones.
    """

    target_shift: float = 0.0
    target_scale: float = 1.0
    name: str = "regress"
    causal: bool = False

    def __post_init__(self) -> None:
        if not float(self.target_scale) > 0:
            raise ValueError(f"task.target_scale must be > 0, got {self.target_scale}")

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # Flatten both: an [B, 1] output against [B] targets would broadcast to [B, B] and still run.
        return F.mse_loss(output.reshape(-1), target.reshape(-1).to(output.dtype))

    def per_example_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The squared error of each sample [B]; its mean is `loss`."""
        return (output.reshape(-1) - target.reshape(-1).to(output.dtype)) ** 2

    def predicted_right(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per sample: within a fifth of the targets' spread (their standard deviation in this batch)."""
        true = target.reshape(-1).double()
        spread = float(true.std(correction=0)) if len(true) > 1 else 0.0
        tolerance = 0.2 * spread if spread > 0 else 1e-6 * (abs(float(true.mean())) + 1.0)
        return (output.reshape(-1).double() - true).abs() <= tolerance

    def output_problem(self, output: Any, batch_size: int) -> str | None:
        if not isinstance(output, torch.Tensor):
            return f"the model returned {type(output).__name__}; regress expects a tensor of shape [B] or [B, 1]"
        if tuple(output.shape) not in ((batch_size,), (batch_size, 1)):
            return (
                f"the model returned shape {list(output.shape)}; regress expects one value per sample, "
                f"[B] or [B, 1] = [{batch_size}] or [{batch_size}, 1] (e.g. a final nn.Linear(..., 1))"
            )
        if not output.is_floating_point():
            return f"the model returned dtype {output.dtype}; regression outputs must be floating point"
        return None

    def target_problems(self, targets: torch.Tensor) -> list[TargetProblem]:
        if not targets.is_floating_point():
            return [
                TargetProblem(
                    f"targets have dtype {targets.dtype}; regress needs float targets - convert "
                    "them in your dataset, e.g. torch.tensor(y, dtype=torch.float32)",
                    [],
                )
            ]
        if targets.dim() > 2 or (targets.dim() == 2 and targets.shape[1] != 1):
            return [
                TargetProblem(
                    f"targets have shape {list(targets.shape)} after stacking; regress expects "
                    "one value per sample ([] or [1] per item)",
                    [],
                )
            ]
        if len(targets) > 1 and float(targets.double().std()) == 0.0:
            return [TargetProblem(f"every target equals {float(targets.flatten()[0])}: nothing to learn", [])]
        return []

    def missing_targets(self, train_targets: torch.Tensor) -> list[Any]:
        return []  # a continuous target has no values that must occur

    def expected_init_loss(self, train_targets: torch.Tensor) -> tuple[float, str]:
        return self._var(train_targets), f"variance of the training targets{self._units_note()}"

    def head_size(self) -> int:
        return 1

    def init_bias(self, bias: torch.Tensor, train_targets: torch.Tensor) -> str:
        with torch.no_grad():
            bias.fill_(self._mean(train_targets))
        return f"mean of the training targets ({self._mean(train_targets):.4g}{self._units_note()})"

    def prior_gap(self, mean_prediction: torch.Tensor, train_targets: torch.Tensor) -> tuple[float, str]:
        """Distance of the average prediction from the target mean, in target standard deviations."""
        distance = abs(float(mean_prediction.double().mean()) - self._mean(train_targets))
        gap = distance / math.sqrt(self._var(train_targets))
        return gap, "distance of the mean prediction from the training target mean, in target standard deviations"

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        pred, true = outputs.reshape(-1).double(), targets.reshape(-1).double()
        n = len(true)
        if n == 0:
            return {"loss": math.nan, "rmse": math.nan, "mae": math.nan, "r2": math.nan, "count": 0}
        err = (pred - true) * float(self.target_scale)  # in the original units
        return {
            "loss": float(((pred - true) ** 2).mean()),
            "rmse": float(err.pow(2).mean().sqrt()),
            "mae": float(err.abs().mean()),
            "r2": _r2(pred, true),
            "r2_se": _bootstrap_se(pred, true),
            "count": n,
        }

    def baselines(self, train_targets: torch.Tensor, test_targets: torch.Tensor) -> dict[str, float]:
        """Predict the training mean for every test sample."""
        true = test_targets.reshape(-1).double()
        mean = torch.full_like(true, self._mean(train_targets))
        err = (mean - true) * float(self.target_scale)
        return {
            "mean_r2": _r2(mean, true),
            "mean_rmse": float(err.pow(2).mean().sqrt()),
            "mean_mae": float(err.abs().mean()),
        }

    def headline(self) -> str:
        return "r2"

    def view_batch(self, inputs: torch.Tensor, targets: torch.Tensor) -> BatchView:
        flat = inputs.detach().float().cpu().reshape(len(inputs), -1)
        return TableView(
            [f"x{i}" for i in range(flat.shape[1])] + ["target"],
            [row + [t] for row, t in zip(flat.tolist(), self._original(targets).tolist())],
        )

    def view_predictions(self, outputs: torch.Tensor, targets: torch.Tensor) -> PredictionView:
        """Predicted against true values, in the original units."""
        return PredictionView("values", self._original(targets).tolist(), self._original(outputs).tolist())

    def _original(self, values: torch.Tensor) -> torch.Tensor:
        return values.detach().double().cpu().reshape(-1) * float(self.target_scale) + float(self.target_shift)

    def _units_note(self) -> str:
        if float(self.target_shift) == 0.0 and float(self.target_scale) == 1.0:
            return ""
        return (
            f", in standardised units (y - {float(self.target_shift):g}) / {float(self.target_scale):g} "
            "<task.target_shift, task.target_scale>"
        )

    @staticmethod
    def _mean(targets: torch.Tensor) -> float:
        return float(targets.double().mean())

    @staticmethod
    def _var(targets: torch.Tensor) -> float:
        return float(targets.double().var(correction=0))  # what predicting the mean scores under MSE


def _r2(pred: torch.Tensor, true: torch.Tensor) -> float:
    total = float(((true - true.mean()) ** 2).sum())
    return 1.0 - float(((pred - true) ** 2).sum()) / total if total > 0 else math.nan


def _bootstrap_se(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Standard error of R^2 over test-set resamples (a fixed generator: the same numbers every run)."""
    if len(true) < 3:
        return math.nan
    picks = torch.randint(len(true), (_BOOTSTRAP, len(true)), generator=torch.Generator().manual_seed(0))
    p, t = pred[picks], true[picks]
    total = ((t - t.mean(1, keepdim=True)) ** 2).sum(1)
    r2 = 1.0 - ((p - t) ** 2).sum(1) / total.clamp_min(1e-12)
    return float(r2.std())
