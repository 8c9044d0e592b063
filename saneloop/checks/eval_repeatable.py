"""Gate `eval_repeatable`: evaluating the same weights twice gives identical outputs and metrics.

Evaluation must be a function of the weights. Dropout applied at eval (`F.dropout(x, p)` without
`training=self.training`), a random transform in the test dataset, or BatchNorm left in training
mode make the reported number a draw from a distribution.

At `evaluate` the second pass reads the first `max_items` validation items again, in the same batches, not
the whole set: any of those causes shows on a few hundred items, and a second full pass cost half of
`evaluate` on a large validation set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..data.padding import IGNORE_INDEX, cat_padded
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed
from .measure.fitting import each

TIP = "tip 3 (evaluate on the full test set) with tip 1 (fix the seed): eval is repeatable"


@dataclass
class EvalRepeatableSettings(GateSettings):
    # The validation items evaluated a second time: the first whole batches holding at least this many (the
    # same batches as the first pass, so the outputs may be compared bit for bit). null: all of them.
    max_items: Optional[int] = bounded(512, low=1)


def evaluates_repeatably(
    model: nn.Module,
    batches: Iterable[Any],
    metrics: Optional[Callable[[torch.Tensor, Any], Mapping[str, float]]] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """Evaluate `model` (eval mode, no gradients) twice over the same batches; the outputs must agree bit
    for bit, and so must `metrics(outputs, targets)` when given.

    Usable on its own: `evaluates_repeatably(model, test_loader, Classify(10).metrics).passed`.
    """
    fixed = list(each(batches))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            first, second = (cat_padded([forward(model, b, outputs).float() for b in fixed]) for _ in range(2))
    finally:
        model.train(was_training)
    targets = cat_padded([b.targets for b in fixed], IGNORE_INDEX)
    scores = (lambda out: dict(metrics(out, targets))) if metrics is not None else (lambda out: {})
    return repeatable_eval(first, second, scores(first), scores(second))


def first_rows(
    outputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor, wanted: torch.Tensor, again: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first pass's outputs and targets (sorted by dataset index) of the items `wanted` (sorted too);
    per-position ones cut to the positions of the second pass's outputs `again`: past them, these rows
    hold only padding (the full pass is padded to its longest item)."""
    rows = torch.searchsorted(indices, wanted)
    found, tgt = outputs[rows], targets[rows]
    if found.dim() > 2 and again.dim() > 2:
        found, tgt = found[:, : again.shape[1]], tgt[:, : again.shape[1]]
    return found, tgt


def repeatable_eval(
    first: torch.Tensor, second: torch.Tensor, first_metrics: Mapping[str, float], second_metrics: Mapping[str, float]
) -> Verdict:
    """Compare two evaluations of the same weights: outputs bit for bit, then the metrics."""
    same_shape = first.shape == second.shape
    gap = float((first.float() - second.float()).abs().max()) if same_shape and first.numel() else 0.0
    if not same_shape:
        gap = float("inf")
    changed = {
        k: (first_metrics[k], second_metrics.get(k)) for k in first_metrics if first_metrics[k] != second_metrics.get(k)
    }
    if gap == 0.0 and not changed:
        return passed(
            GATE,
            0.0,
            0.0,
            f"two evaluations of the same weights gave identical outputs ({len(first)} examples) and metrics",
            TIP,
        )
    shown = "; ".join(f"{k} {a} then {b}" for k, (a, b) in list(changed.items())[:4]) or "metrics equal"
    return failed(
        GATE,
        gap,
        0.0,
        f"two evaluations of the same weights differ: outputs by up to {gap:.3g}; {shown}. "
        "Likely causes: dropout applied at eval (F.dropout(x, p) without training=self.training), a "
        "random transform in the test dataset, noise added in forward regardless of model.training.",
        TIP,
    )


GATE = Gate(
    name="eval_repeatable",
    stage="evaluate",
    settings=EvalRepeatableSettings,
    tip=TIP,
    what="a second evaluation of the same weights gives identical outputs and metrics",
    checks=(evaluates_repeatably,),
    after=("full_eval",),
)
