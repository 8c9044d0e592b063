"""Binary classification from one logit per sample ([B, 1] or [B]), 0/1 targets, BCE with logits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F

from .base import TargetProblem
from .classify import Classify
from .views import BatchView, PredictionView

_MAX_LISTED = 20  # how many offending sample indices a message names


@dataclass
class Binary:
    """Yes/no from a single logit, for data where the positive class may be rare.

    The final bias starts at the log-odds of the training positive rate p, so the predicted
    probability at init is p and the loss at init is the binary entropy H(p), not log 2. A target
    equal to `ignore_index` (-100) counts nowhere.
    """

    threshold: float = 0.5  # probability above which a sample is called positive (accuracy, precision, ...)
    name: str = "binary"
    causal: bool = False
    ignore_index: Optional[int] = -100

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # Flatten both: [B, 1] logits against [B] targets would broadcast to [B, B] and still run.
        output, target = output.reshape(-1), target.reshape(-1)
        kept = self._kept(target)
        return F.binary_cross_entropy_with_logits(output[kept], target[kept].to(output.dtype))

    def _kept(self, targets: torch.Tensor) -> torch.Tensor:
        if self.ignore_index is None:
            return torch.ones_like(targets, dtype=torch.bool)
        return targets != self.ignore_index

    def per_example_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of each sample [B]; its mean is `loss`."""
        flat, target = output.reshape(-1), target.reshape(-1)
        losses = F.binary_cross_entropy_with_logits(flat, target.to(flat.dtype), reduction="none")
        return losses * self._kept(target)  # an ignored target counts nowhere

    def predicted_right(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per sample: is the logit on the target's side of 0?"""
        target = target.reshape(-1)
        return ((output.reshape(-1) > 0) == (target > 0.5)) | ~self._kept(target)

    def output_problem(self, output: Any, batch_size: int) -> str | None:
        if not isinstance(output, torch.Tensor):
            return f"the model returned {type(output).__name__}; binary expects one logit per sample, [B, 1] or [B]"
        if tuple(output.shape) not in ((batch_size,), (batch_size, 1)):
            return (
                f"the model returned shape {list(output.shape)}; binary expects one logit per sample, "
                f"[B, 1] or [B] = [{batch_size}, 1] (a 2-logit head belongs to +recipe=classify)"
            )
        if not output.is_floating_point():
            return f"the model returned dtype {output.dtype}; logits must be floating point"
        return None

    def target_problems(self, targets: torch.Tensor) -> list[TargetProblem]:
        if targets.dim() > 2 or (targets.dim() == 2 and targets.shape[1] != 1):
            return [
                TargetProblem(
                    f"targets have shape {list(targets.shape)} after stacking; binary expects one "
                    "0/1 value per sample ([] or [1] per item)",
                    [],
                )
            ]
        flat = targets.reshape(-1).double()
        bad = ((flat != 0) & (flat != 1) & self._kept(targets.reshape(-1))).nonzero().flatten()
        if len(bad) == 0:
            return []
        seen = sorted({float(v) for v in flat[bad][:_MAX_LISTED].tolist()})
        return [
            TargetProblem(
                f"{len(bad)} targets are not 0 or 1 (e.g. {seen}); binary needs 0/1 labels - for "
                "several classes use +recipe=classify",
                bad[:_MAX_LISTED].tolist(),
            )
        ]

    def missing_targets(self, train_targets: torch.Tensor) -> list[Any]:
        flat = train_targets.reshape(-1)
        flat = flat[self._kept(flat)]
        return [c for c in (0, 1) if not bool((flat == c).any())]

    def expected_init_loss(self, train_targets: torch.Tensor) -> tuple[float, str]:
        p = self._rate(train_targets)
        return -(p * math.log(p) + (1 - p) * math.log(1 - p)), f"binary entropy of the positive rate {p:.4f}"

    def head_size(self) -> int:
        return 1

    def init_bias(self, bias: torch.Tensor, train_targets: torch.Tensor) -> str:
        p = self._rate(train_targets)
        with torch.no_grad():
            bias.fill_(math.log(p / (1 - p)))
        return f"log-odds of the training positive rate ({p:.4f})"

    def prior_gap(self, mean_prediction: torch.Tensor, train_targets: torch.Tensor) -> tuple[float, str]:
        """|mean predicted probability - positive rate| (total variation between the two Bernoullis)."""
        gap = abs(float(torch.sigmoid(mean_prediction.double()).mean()) - self._rate(train_targets))
        return gap, "distance of the mean predicted probability from the training positive rate"

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        kept = self._kept(targets.reshape(-1))
        logits, true = outputs.reshape(-1)[kept].double(), targets.reshape(-1)[kept].double()
        n = len(true)
        if n == 0:
            return {"loss": math.nan, "count": 0}
        called = torch.sigmoid(logits) > self.threshold
        pos = true == 1
        tp, fp, fn = float((called & pos).sum()), float((called & ~pos).sum()), float((~called & pos).sum())
        acc = float((called == pos).double().mean())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        auroc = _auroc(logits, pos)
        return {
            "loss": float(self.loss(logits, true)),
            "accuracy": acc,
            "accuracy_se": math.sqrt(acc * (1 - acc) / n),
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "auroc": auroc,
            "auroc_se": _auroc_se(auroc, int(pos.sum()), int((~pos).sum())),
            "average_precision": _average_precision(logits, pos),
            "positives": int(pos.sum()),
            "count": n,
        }

    def baselines(self, train_targets: torch.Tensor, test_targets: torch.Tensor) -> dict[str, float]:
        """Always the majority class (accuracy), a random score (AUROC), and the test positive rate (AP)."""
        majority = 1.0 if self._rate(train_targets) > 0.5 else 0.0
        test = test_targets.reshape(-1)
        test = test[self._kept(test)].double()
        return {
            "majority_accuracy": float((test == majority).double().mean()),
            "chance_auroc": 0.5,
            "chance_average_precision": float(test.mean()),
        }

    def headline(self) -> str:
        return "auroc"

    def view_batch(self, inputs: torch.Tensor, targets: torch.Tensor) -> BatchView:
        """Shown as a 2-class classification shows it (images or table rows, captioned y=0/1)."""
        return Classify(2).view_batch(inputs, targets.reshape(-1).long())

    def view_predictions(self, outputs: torch.Tensor, targets: torch.Tensor) -> PredictionView:
        """0/1 targets against predicted probabilities."""
        kept = self._kept(targets.reshape(-1).cpu())
        probs = torch.sigmoid(outputs.detach().double().cpu().reshape(-1))[kept]
        return PredictionView(
            "values", targets.reshape(-1).cpu()[kept].tolist(), probs.tolist(), ["negative", "positive"]
        )

    def _rate(self, targets: torch.Tensor) -> float:
        flat = targets.reshape(-1)
        flat = flat[self._kept(flat)].double()
        # A class never seen gets half a count, so the log-odds stay finite.
        return min(max(float(flat.sum()), 0.5), len(flat) - 0.5) / len(flat)


def _auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative (ties count half)."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _average_ranks(scores)
    return (float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """1-based ranks, ties given the mean of the ranks they span."""
    order = values.argsort()
    sorted_values = values[order]
    ranks = torch.empty_like(values)
    _, inverse, counts = torch.unique_consecutive(sorted_values, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).to(values.dtype)
    mean_rank = ends - (counts.to(values.dtype) - 1) / 2
    ranks[order] = mean_rank[inverse]
    return ranks


def _auroc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of the AUROC."""
    if not (n_pos and n_neg) or math.isnan(auc):
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def _average_precision(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Sum over score thresholds, best first, of precision times the recall gained (scikit-learn's AP)."""
    n_pos = int(positive.sum())
    if n_pos == 0:
        return math.nan
    order = scores.argsort(descending=True, stable=True)
    _, counts = torch.unique_consecutive(scores[order], return_counts=True)
    ends = counts.cumsum(0) - 1  # last position of each group of tied scores
    tp = positive[order].double().cumsum(0)[ends]
    precision = tp / (ends + 1).double()
    recall_gained = torch.diff(tp, prepend=tp.new_zeros(1)) / n_pos
    return float((precision * recall_gained).sum())
