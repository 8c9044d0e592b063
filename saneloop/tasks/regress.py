"""Regression with MSE: one real-valued output per sample ([B] or [B, 1]), or k of them ([B, k], `outputs`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F

from . import regress_stats as stats
from .base import TargetProblem
from .views import BatchView, PredictionView, TableView

_FIX_OUTPUTS = "set task.outputs (or data.outputs in the data YAML) to the number of targets per item"


@dataclass
class Regress:
    """Regression of `outputs` values per sample with MSE (the mean over samples and outputs).

    Each output's final bias starts at its training target mean, so the first prediction is the mean
    and the loss at init is the mean of the outputs' target variances. If the data changed the targets'
    units to `(y - target_shift) / target_scale` (standardised targets train better; one number, or one
    per output), the loss is in those units and RMSE and MAE are reported back in the original ones.
    saneloop never rescales targets itself: the loss is the user's.
    """

    target_shift: Any = 0.0  # a number, or one per output
    target_scale: Any = 1.0
    name: str = "regress"
    causal: bool = False
    outputs: int = 1  # targets per item: [] or [1] when 1, [k] when k
    output_names: Optional[Sequence[str]] = None  # names in the metric keys (r2_<name>); default 0, 1, ...

    def __post_init__(self) -> None:
        if isinstance(self.outputs, bool) or not isinstance(self.outputs, int) or self.outputs < 1:
            raise ValueError(f"task.outputs must be an integer >= 1 (targets per item), got {self.outputs!r}")
        self._shifts = stats.per_output(self.target_shift, self.outputs, "task.target_shift")
        self._scales = stats.per_output(self.target_scale, self.outputs, "task.target_scale")
        if not all(s > 0 for s in self._scales):
            raise ValueError(f"task.target_scale must be > 0, got {self.target_scale}")
        self._names = stats.output_names(self.output_names, self.outputs)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # Flatten both: an [B, 1] output against [B] targets would broadcast to [B, B] and still run.
        return F.mse_loss(output.reshape(-1), target.reshape(-1).to(output.dtype))

    def per_example_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The squared error of each sample [B] (the mean over its outputs); its mean is `loss`."""
        if self.outputs == 1:
            return (output.reshape(-1) - target.reshape(-1).to(output.dtype)) ** 2
        return self.per_output_loss(output, target).mean(1)

    def per_output_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The squared error of each sample and output [B, k]: the statistical gates judge each output."""
        return (output.reshape(-1, self.outputs) - target.reshape(-1, self.outputs).to(output.dtype)) ** 2

    def predicted_right(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per sample: every output within a fifth of its targets' spread (their sd in this batch)."""
        true, pred = target.reshape(-1, self.outputs).double(), output.reshape(-1, self.outputs).double()
        right = torch.ones(len(true), dtype=torch.bool, device=true.device)
        for j in range(self.outputs):
            spread = float(true[:, j].std(correction=0)) if len(true) > 1 else 0.0
            tolerance = 0.2 * spread if spread > 0 else 1e-6 * (abs(float(true[:, j].mean())) + 1.0)
            right &= (pred[:, j] - true[:, j]).abs() <= tolerance
        return right

    def output_problem(self, output: Any, batch_size: int) -> str | None:
        wanted = f"[B] or [B, 1] = [{batch_size}] or [{batch_size}, 1]" if self.outputs == 1 else f"[B, {self.outputs}]"
        if not isinstance(output, torch.Tensor):
            return f"the model returned {type(output).__name__}; regress expects a tensor of shape {wanted}"
        fits = ((batch_size,), (batch_size, 1)) if self.outputs == 1 else ((batch_size, self.outputs),)
        if tuple(output.shape) not in fits:
            return self._wrong_width(list(output.shape), batch_size, wanted)
        if not output.is_floating_point():
            return f"the model returned dtype {output.dtype}; regression outputs must be floating point"
        return None

    def _wrong_width(self, shape: list[int], batch_size: int, wanted: str) -> str:
        width = shape[1] if len(shape) == 2 and shape[0] == batch_size else None
        if self.outputs == 1 and width is None:
            return (
                f"the model returned shape {shape}; regress expects one value per sample, {wanted} "
                "(e.g. a final nn.Linear(..., 1))"
            )
        got = f"{width} values per sample" if width is not None else f"shape {shape}"
        return (
            f"the model returned {got}, but task.outputs={self.outputs} (targets per item): regress expects "
            f"{'one value per sample, ' if self.outputs == 1 else ''}{wanted}. Make the model's last layer "
            f"{self.outputs} wide (model.out_features={self.outputs}), or {_FIX_OUTPUTS}"
        )

    def target_problems(self, targets: torch.Tensor) -> list[TargetProblem]:
        if not targets.is_floating_point():
            return [
                TargetProblem(
                    f"targets have dtype {targets.dtype}; regress needs float targets - convert "
                    "them in your dataset, e.g. torch.tensor(y, dtype=torch.float32)",
                    [],
                )
            ]
        per_item = math.prod(targets.shape[1:]) if targets.dim() > 1 else 1
        if targets.dim() > 2 or per_item != self.outputs:
            shown = "one value" if per_item == 1 else f"{per_item} values"
            wanted = "one value per sample ([] or [1] per item)" if self.outputs == 1 else f"[{self.outputs}] per item"
            return [
                TargetProblem(
                    f"targets have {shown} per item (shape {list(targets.shape)} after stacking), but "
                    f"task.outputs={self.outputs}: regress expects {wanted}",
                    [],
                    f"{_FIX_OUTPUTS[0].upper()}{_FIX_OUTPUTS[1:]} (the model's output width follows it in "
                    "model=mlp_regress), or check the dataset's targets.",
                )
            ]
        return self._constant(targets)

    def _constant(self, targets: torch.Tensor) -> list[TargetProblem]:
        if len(targets) < 2:
            return []
        if self.outputs == 1:
            if float(targets.double().std()) == 0.0:
                return [TargetProblem(f"every target equals {float(targets.flatten()[0])}: nothing to learn", [])]
            return []
        cols = stats.columns(targets, self.outputs)
        flat = [j for j in range(self.outputs) if float(cols[:, j].std()) == 0.0]
        return [
            TargetProblem(f"output {self._names[j]}: every target equals {float(cols[0, j])}: nothing to learn", [])
            for j in flat
        ]

    def missing_targets(self, train_targets: torch.Tensor) -> list[Any]:
        return []  # a continuous target has no values that must occur

    def expected_init_loss(self, train_targets: torch.Tensor) -> tuple[float, str]:
        if self.outputs == 1:
            return self._var(train_targets), f"variance of the training targets{self._units_note()}"
        variances = [self._var(c) for c in stats.columns(train_targets, self.outputs).T]
        shown = ", ".join(f"{v:.4g}" for v in variances)
        return sum(variances) / self.outputs, (
            f"mean over the {self.outputs} outputs of each output's training-target variance ({shown})"
            f"{self._units_note()}{stats.spread_note(variances, self._names)}"
        )

    def head_size(self) -> int:
        return self.outputs

    def init_bias(self, bias: torch.Tensor, train_targets: torch.Tensor) -> str:
        if self.outputs == 1:
            with torch.no_grad():
                bias.fill_(self._mean(train_targets))
            return f"mean of the training targets ({self._mean(train_targets):.4g}{self._units_note()})"
        means = self._means(train_targets)
        with torch.no_grad():
            bias.copy_(torch.tensor(means, dtype=bias.dtype).reshape(bias.shape))
        shown = ", ".join(f"{m:.4g}" for m in means)
        return f"mean of each output's training targets ({shown}{self._units_note()})"

    def prior_gap(self, mean_prediction: torch.Tensor, train_targets: torch.Tensor) -> tuple[float, str]:
        """Distance of the average prediction from the target mean, in target standard deviations (the
        largest over the outputs)."""
        if self.outputs == 1:
            distance = abs(float(mean_prediction.double().mean()) - self._mean(train_targets))
            gap = distance / math.sqrt(self._var(train_targets))
            return gap, "distance of the mean prediction from the training target mean, in target standard deviations"
        predicted, cols = (
            stats.columns(mean_prediction, self.outputs).mean(0),
            stats.columns(train_targets, self.outputs),
        )
        gaps = [abs(float(predicted[j]) - self._mean(c)) / math.sqrt(self._var(c)) for j, c in enumerate(cols.T)]
        return max(gaps), (
            "largest distance over the outputs of the mean prediction from the training target mean, in that "
            "output's target standard deviations"
        )

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        if self.outputs > 1:
            pred, true = stats.columns(outputs, self.outputs), stats.columns(targets, self.outputs)
            if len(true) == 0:
                return {"loss": math.nan, "r2": math.nan, "count": 0}
            return stats.output_metrics(pred, true, self._scales, self._names)
        pred, true = outputs.reshape(-1).double(), targets.reshape(-1).double()
        n = len(true)
        if n == 0:
            return {"loss": math.nan, "rmse": math.nan, "mae": math.nan, "r2": math.nan, "count": 0}
        err = (pred - true) * self._scales[0]  # in the original units
        return {
            "loss": float(((pred - true) ** 2).mean()),
            "rmse": float(err.pow(2).mean().sqrt()),
            "mae": float(err.abs().mean()),
            "r2": stats.r2(pred, true),
            "r2_se": stats.bootstrap_se(pred, true),
            "count": n,
        }

    def baselines(self, train_targets: torch.Tensor, test_targets: torch.Tensor) -> dict[str, float]:
        """Predict the training mean (of each output) for every test sample."""
        if self.outputs > 1:
            true = stats.columns(test_targets, self.outputs)
            return stats.mean_predictor(self._means(train_targets), true, self._scales, self._names)
        true = test_targets.reshape(-1).double()
        mean = torch.full_like(true, self._mean(train_targets))
        err = (mean - true) * self._scales[0]
        return {
            "mean_r2": stats.r2(mean, true),
            "mean_rmse": float(err.pow(2).mean().sqrt()),
            "mean_mae": float(err.abs().mean()),
        }

    def headline(self) -> str:
        return "r2"  # with several outputs, the mean of each output's R^2

    def view_batch(self, inputs: torch.Tensor, targets: torch.Tensor) -> BatchView:
        flat = inputs.detach().float().cpu().reshape(len(inputs), -1)
        named = ["target"] if self.outputs == 1 else [f"target_{n}" for n in self._names]
        original = self._original(targets).reshape(len(flat), self.outputs)
        return TableView(
            [f"x{i}" for i in range(flat.shape[1])] + named,
            [row + list(t) for row, t in zip(flat.tolist(), original.tolist())],
        )

    def view_predictions(self, outputs: torch.Tensor, targets: torch.Tensor) -> PredictionView:
        """Predicted against true values, in the original units; with several outputs, every (sample,
        output) pair in the units the loss sees (one plot cannot hold 1 and 10,000 side by side)."""
        if self.outputs > 1:
            as_trained = lambda v: v.detach().double().cpu().reshape(-1).tolist()  # noqa: E731
            return PredictionView("values", as_trained(targets), as_trained(outputs))
        return PredictionView("values", self._original(targets).tolist(), self._original(outputs).tolist())

    def _original(self, values: torch.Tensor) -> torch.Tensor:
        if self.outputs == 1:
            return values.detach().double().cpu().reshape(-1) * self._scales[0] + self._shifts[0]
        scale, shift = torch.tensor(self._scales, dtype=torch.double), torch.tensor(self._shifts, dtype=torch.double)
        return stats.columns(values, self.outputs) * scale + shift

    def _units_note(self) -> str:
        if all(s == 0.0 for s in self._shifts) and all(s == 1.0 for s in self._scales):
            return ""
        if self.outputs == 1:
            shift, scale = f"{self._shifts[0]:g}", f"{self._scales[0]:g}"
        else:
            shift, scale = (f"[{', '.join(f'{v:g}' for v in vs)}]" for vs in (self._shifts, self._scales))
        return f", in standardised units (y - {shift}) / {scale} <task.target_shift, task.target_scale>"

    def _means(self, targets: torch.Tensor) -> list[float]:
        return [self._mean(c) for c in stats.columns(targets, self.outputs).T]

    @staticmethod
    def _mean(targets: torch.Tensor) -> float:
        return float(targets.double().mean())

    @staticmethod
    def _var(targets: torch.Tensor) -> float:
        return float(targets.double().var(correction=0))  # what predicting the mean scores under MSE
