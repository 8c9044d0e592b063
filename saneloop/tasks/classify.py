"""Multi-class classification: logits [B, C], integer targets in [0, C), cross-entropy."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F

from .base import TargetProblem
from .views import BatchView, ImageView, PredictionView, TableView, TextView

_MAX_LISTED = 20  # how many offending sample indices a message names


@dataclass
class Classify:
    """Classification into `num_classes` classes from logits.

    The final bias starts at the log of the training class frequencies, so the model's first
    prediction is the class prior and its loss at init is the prior's entropy (log C if balanced).
    A target equal to `ignore_index` (-100, as Hugging Face collators and torch's cross-entropy use)
    counts nowhere: not in the loss, the metrics, the prior, the bias or the checks.
    """

    num_classes: int
    name: str = "classify"
    causal: bool = False
    ignore_index: Optional[int] = -100
    class_names: Optional[Sequence[str]] = None  # what each class index means, for figures
    decode: Optional[Callable[[list[int]], str]] = None  # token ids -> text, so token inputs show as text

    def __post_init__(self) -> None:
        if int(self.num_classes) < 2:
            raise ValueError(f"task.num_classes must be >= 2, got {self.num_classes}; set data.num_classes")

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target, ignore_index=-100 if self.ignore_index is None else self.ignore_index)

    def kept(self, targets: torch.Tensor) -> torch.Tensor:
        """Which targets count (True), i.e. are not the ignore index."""
        if self.ignore_index is None or targets.is_floating_point():
            return torch.ones_like(targets, dtype=torch.bool)
        return targets != self.ignore_index

    def per_example_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of each sample [B]; its mean is `loss` (the statistical gates pair examples)."""
        ignore = -100 if self.ignore_index is None else self.ignore_index
        return F.cross_entropy(output, target, ignore_index=ignore, reduction="none")

    def predicted_right(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per sample: is the most likely class the target (the overfit gate wants every one right)?"""
        return (output.argmax(-1) == target) | ~self.kept(target)  # an ignored target is never wrong

    def output_problem(self, output: Any, batch_size: int) -> str | None:
        want = (batch_size, self.num_classes)
        if not isinstance(output, torch.Tensor):
            return f"the model returned {type(output).__name__}; classify expects a logits tensor of shape {list(want)}"
        if tuple(output.shape) != want:
            return (
                f"the model returned shape {list(output.shape)}; classify expects logits [B, C] = {list(want)} "
                f"(C = data.num_classes = {self.num_classes})"
            )
        if not output.is_floating_point():
            return f"the model returned dtype {output.dtype}; logits must be floating point"
        return None

    def target_problems(self, targets: torch.Tensor) -> list[TargetProblem]:
        if targets.is_floating_point() or targets.dtype == torch.bool:
            return [
                TargetProblem(
                    f"targets have dtype {targets.dtype}; classify needs integer class indices (torch.long) "
                    "- convert them in your dataset, e.g. torch.tensor(y, dtype=torch.long)",
                    [],
                )
            ]
        if targets.dim() != 1:
            return [
                TargetProblem(
                    f"targets have shape {list(targets.shape)} after stacking; classify expects one "
                    "class index per sample (a scalar per item)",
                    [],
                )
            ]
        kept = self.kept(targets)
        if len(targets) and not bool(kept.any()):
            return [TargetProblem(f"every target equals the ignore index {self.ignore_index}: nothing to learn", [])]
        bad = (((targets < 0) | (targets >= self.num_classes)) & kept).nonzero().flatten()
        if len(bad) == 0:
            return []
        lo, hi = int(targets[kept].min()), int(targets[kept].max())
        hint = " (labels look 1-based: subtract 1)" if lo == 1 and hi == self.num_classes else ""
        return [
            TargetProblem(
                f"{len(bad)} targets outside [0, {self.num_classes}) (seen min {lo}, max {hi}){hint}; "
                f"check data.num_classes={self.num_classes} and the labels",
                bad[:_MAX_LISTED].tolist(),
            )
        ]

    def missing_targets(self, train_targets: torch.Tensor) -> list[Any]:
        counts = self._counts(train_targets)
        return (counts == 0).nonzero().flatten().tolist()

    def expected_init_loss(self, train_targets: torch.Tensor) -> tuple[float, str]:
        p = self._prior(train_targets)
        entropy = float(-(p * p.log()).sum())
        if float(p.max() - p.min()) < 1e-3:
            return entropy, f"-log(1/C) = log({self.num_classes}) with balanced classes"
        return (
            entropy,
            f"entropy of the training class prior "
            f"(log {self.num_classes} = {math.log(self.num_classes):.4f} if balanced)",
        )

    def head_size(self) -> int:
        return self.num_classes

    def init_bias(self, bias: torch.Tensor, train_targets: torch.Tensor) -> str:
        with torch.no_grad():
            bias.copy_(self._prior(train_targets).log().to(bias))
        return "log class frequencies of the training targets"

    def prior_gap(self, mean_prediction: torch.Tensor, train_targets: torch.Tensor) -> tuple[float, str]:
        """Total variation between the mean softmax at init and the class prior."""
        probs = mean_prediction.softmax(-1) if mean_prediction.dim() == 2 else mean_prediction
        gap = 0.5 * float((probs.mean(0) - self._prior(train_targets)).abs().sum())
        return gap, "total variation between the mean predicted class distribution and the class prior"

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        kept = self.kept(targets)
        outputs, targets = outputs[kept], targets[kept]
        n = len(targets)
        acc = float((outputs.argmax(-1) == targets).float().mean()) if n else float("nan")
        return {
            "loss": float(self.loss(outputs.float(), targets)) if n else float("nan"),
            "accuracy": acc,
            "accuracy_se": math.sqrt(acc * (1 - acc) / n) if n else float("nan"),
            "count": n,
        }

    def baselines(self, train_targets: torch.Tensor, test_targets: torch.Tensor) -> dict[str, float]:
        majority = int(self._counts(train_targets).argmax())
        test_targets = test_targets[self.kept(test_targets)]
        return {
            "chance": 1.0 / self.num_classes,
            "majority": float((test_targets == majority).float().mean()),
        }

    def headline(self) -> str:
        return "accuracy"

    def view_batch(self, inputs: torch.Tensor, targets: torch.Tensor) -> BatchView:
        """Images for inputs shaped [B, C, H, W] (C = 1 or 3) or [B, H, W]; table rows otherwise."""
        if self.decode is not None and inputs.dim() == 2 and not inputs.is_floating_point():
            return TextView(
                [f"{self._name(int(t))}: {self.decode(ids)}" for ids, t in zip(inputs.tolist(), targets.tolist())]
            )
        x = inputs.detach().float().cpu()
        captions = [f"y={int(t)}" for t in targets.flatten().tolist()]
        if x.dim() == 4 and x.shape[1] in (1, 3):
            images = x.permute(0, 2, 3, 1).numpy()
            return ImageView(images[..., 0] if x.shape[1] == 1 else images, captions)
        if x.dim() == 3:
            return ImageView(x.numpy(), captions)
        flat = x.reshape(len(x), -1)
        return TableView(
            [f"x{i}" for i in range(flat.shape[1])] + ["target"],
            [row + [float(t)] for row, t in zip(flat.tolist(), targets.flatten().tolist())],
        )

    def view_predictions(self, outputs: torch.Tensor, targets: torch.Tensor) -> PredictionView:
        kept = self.kept(targets)
        outputs, targets = outputs[kept], targets[kept]
        return PredictionView(
            "classes",
            targets.flatten().tolist(),
            outputs.argmax(-1).flatten().tolist(),
            [self._name(c) for c in range(self.num_classes)],
        )

    def _name(self, c: int) -> str:
        names = self.class_names
        return str(names[c]) if names is not None and 0 <= c < len(names) else str(c)

    def _counts(self, targets: torch.Tensor) -> torch.Tensor:
        targets = targets[self.kept(targets)]
        return torch.bincount(targets.long().flatten(), minlength=self.num_classes).double()

    def _prior(self, targets: torch.Tensor) -> torch.Tensor:
        counts = self._counts(targets)
        # A class never seen in training gets half a count, so its log prior is finite.
        return counts.clamp_min(0.5) / counts.clamp_min(0.5).sum()
