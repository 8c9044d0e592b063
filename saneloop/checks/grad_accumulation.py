"""Gate `grad_accumulation`: with `accelerator.gradient_accumulation_steps` = k > 1, the gradient the
train stage accumulates over k micro-batches equals the gradient of the one batch they stand for.

Accelerate divides each micro-batch's loss by k and sums the gradients: the mean of k per-micro-batch
means. That is the big batch's loss only when every micro-batch holds as many targets: with ignored
targets (-100: padding, prompt tokens) of uneven counts, a micro-batch with 3 targets weighs as much
as one with 300 (transformers PR #34191, regressions #35438, #37197). The reference here weighs every
target once: the task's loss on the k micro-batches taken together. Measured on a copy with Dropout
and BatchNorm in eval mode (their batch-dependence is by design, not an accumulation error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data.batch import Batch
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped
from .measure.probing import probe_copy

TIP = "gradient accumulation must give the gradient of the batch it stands for"
IGNORE_INDEX = -100


@dataclass
class GradAccumulationSettings(GateSettings):
    # Largest |accumulated - big-batch| / |big-batch| gradient norm (float rounding is ~1e-6).
    rtol: float = bounded(1e-3, low=0, above=True)


def target_counts(targets: Any) -> int:
    """Targets that count: every element, less those equal to the ignore index (-100)."""
    if isinstance(targets, dict):
        return sum(target_counts(v) for v in targets.values())
    if not isinstance(targets, torch.Tensor):
        return 0
    return int((targets != IGNORE_INDEX).sum()) if not targets.is_floating_point() else targets.numel()


def accumulation_matches(
    model: nn.Module,
    loss_fn,
    batch: Batch,
    steps: int,
    rtol: float = 1e-3,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """Split `batch` into `steps` micro-batches; compare sum(grad(loss_i) / steps) with grad(loss(batch))."""
    if steps <= 1:
        return skipped(GATE, "no gradient accumulation <accelerator.gradient_accumulation_steps=1>", TIP)
    if len(batch) < steps:
        return skipped(GATE, f"a probe batch of {len(batch)} cannot make {steps} micro-batches", TIP)
    bounds = torch.linspace(0, len(batch), steps + 1).round().long().tolist()
    micro = [batch.select(slice(lo, hi)) for lo, hi in zip(bounds, bounds[1:])]
    error = _accumulation_error(model, loss_fn, batch, micro, outputs)
    counts = [target_counts(m.targets) for m in micro]
    what = f"{steps} micro-batches of {[len(m) for m in micro]} samples holding {counts} targets"
    if error <= rtol:
        return passed(
            GATE,
            round(error, 8),
            f"<= {rtol}",
            f"{what}: accumulated gradient = big-batch gradient (relative difference {error:.2g})",
            TIP,
        )
    uneven = len(set(counts)) > 1
    return failed(
        GATE,
        round(error, 6),
        f"<= {rtol}",
        f"{what}: the accumulated gradient differs from the gradient of the batch they stand for by "
        f"{error:.2%} (relative norm). "
        + (
            "The micro-batches hold uneven numbers of targets: a mean per micro-batch weighs each micro-batch "
            "equally, not each target. "
            if uneven
            else ""
        )
        + "Likely causes: a loss averaged per micro-batch over ignored targets (-100) of uneven counts "
        "(weigh by targets: sum the per-target losses and divide by the targets of all k micro-batches), a "
        "loss that is not a mean over samples (a sum, a max), batch-dependent layers outside BatchNorm. "
        "Fix the weighting, pack sequences so every micro-batch holds as many targets, or use a larger "
        f"loader.train.batch_size instead. <gates.grad_accumulation.rtol={rtol}>",
        TIP,
    )


def _accumulation_error(model: nn.Module, loss_fn, batch: Batch, micro: list[Batch], outputs: ModelOutputs) -> float:
    """|sum(grad(loss_i) / k) - grad(loss(batch))| / |grad(loss(batch))|, on a probe copy of `model`."""
    probe, _ = probe_copy(model)
    params = [p for p in probe.parameters() if p.requires_grad]
    big = _flat_grad(probe, params, loss_fn(forward(probe, batch, outputs), batch.targets))
    steps = len(micro)
    summed = sum(_flat_grad(probe, params, loss_fn(forward(probe, m, outputs), m.targets) / steps) for m in micro)
    return float((summed - big).norm() / big.norm().clamp_min(1e-30))


def _flat_grad(model: nn.Module, params: list[nn.Parameter], loss: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1).double() for g, p in zip(grads, params)]
    )


GATE = Gate(
    name="grad_accumulation",
    stage="sanity",
    settings=GradAccumulationSettings,
    tip=TIP,
    what="k accumulated micro-batches give the gradient of the batch they stand for",
    checks=(accumulation_matches,),
    applies=("accumulation",),
)
