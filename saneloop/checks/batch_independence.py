"""Gate `batch_independence`: backprop from one sample's outputs reaches no other sample's inputs.

A model must treat the samples of a batch independently: mixing them is a silent bug (a `view`
where a `permute` was needed, a normalisation or a softmax over the batch axis) that training
does not reveal, because the loss still goes down. Backprop shows it at once, before any step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped
from .measure.probing import as_batch, nonfinite_gradients, probed_forward, projection, spread

TIP = "tip 12: use backprop to chart dependencies (samples must not mix)"


@dataclass
class BatchIndependenceSettings(GateSettings):
    batch_size: int = bounded(16, low=2)  # samples in the probe batch (real training inputs)
    # Samples i backpropagated from (one backward pass each), spread over the batch with the first and
    # last included; batch_size: the full map.
    samples: int = bounded(16, low=0)
    # Largest gradient allowed on another sample, relative to the largest on sample i itself. 0: any
    # non-zero gradient is a mix (independent samples give exact zeros, not small numbers).
    tolerance: float = bounded(0.0, low=0)


def independent_samples(
    model: nn.Module,
    inputs: Any,
    samples: int = 16,
    tolerance: float = 0.0,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """For several samples i, backprop from a random projection of the outputs of i to the inputs
    (or, for integer tokens, to the first float tensor inside the model); any gradient on another
    sample j != i means the model mixes the batch.

    Runs on a copy with BatchNorm and Dropout in eval mode: both mix or randomise the batch by design
    in training. Usable on its own: `independent_samples(model, batch_inputs).passed`.
    """
    inputs = as_batch(inputs)  # a tensor, a tuple of inputs, a dict of keyword inputs, or a Batch
    batch = len(inputs)
    if batch < 2:
        return skipped(GATE, "needs a batch of at least 2 samples <gates.batch_independence.batch_size>", TIP)
    rows = spread(batch, samples)
    matrix, where, note = dependency_rows(model, inputs, rows, outputs)
    if matrix is None:
        return skipped(GATE, f"{where}; no differentiable tensor to probe{note}", TIP)
    details = {"dependency": matrix.tolist(), "rows": rows, "where": where, "skipped": _padded(inputs)}
    return _judge(matrix, rows, where, note, tolerance, details)


def _padded(batch) -> int:
    """How many positions of the probe batch are padding: neither outputs nor dependencies (not read)."""
    mask = batch.padding_mask
    return 0 if mask is None else int((~mask.bool()).sum())


def dependency_rows(
    model: nn.Module, inputs: Any, rows: list[int], outputs: ModelOutputs = DEFAULT_OUTPUTS
) -> tuple[Optional[torch.Tensor], str, str]:
    """|d out_i / d in_j| summed over each sample's features: one row per i in `rows`, one column per j.

    Returns (matrix or None when nothing differentiable was found, where the gradient was taken, note).
    """
    probed = probed_forward(model, inputs, outputs)
    if not probed.leaves:
        return None, "the integer inputs never become a float tensor shaped [B, ...] inside the model", probed.note
    if not probed.outputs:
        return None, f"the model returned no float tensor shaped [B, ...] (got {probed.returned})", probed.note
    weights = projection(probed.outputs)
    found = []
    for i in rows:  # sample i's outputs at its real positions; gradient at the real positions of every j
        scalar = sum(probed.projected(o, w, i) for o, w in zip(probed.outputs, weights))
        found.append(probed.per_sample(scalar))
    return torch.stack(found), probed.where, probed.note


def _judge(matrix: torch.Tensor, rows: list[int], where: str, note: str, tolerance: float, details: dict) -> Verdict:
    own = matrix[torch.arange(len(rows)), torch.tensor(rows)]
    if not bool(torch.isfinite(matrix).all()):
        return nonfinite_gradients(GATE, where, note, TIP, details)
    if float(matrix.max()) == 0.0:
        return failed(
            GATE,
            0.0,
            "> 0 on sample i",
            "the outputs do not depend on the inputs at all: no "
            f"gradient reaches {where} from any sample{note}. Likely causes: a `.detach()` or "
            "`torch.no_grad()` inside forward, inputs multiplied by zero or overwritten, a model that "
            "returns a constant.",
            TIP,
            **details,
        )
    other = matrix.clone()
    other[torch.arange(len(rows)), torch.tensor(rows)] = 0.0
    limit = tolerance * own.clamp_min(0).unsqueeze(1)
    leaks = [(i, (other[k] > limit[k]).nonzero().flatten().tolist()) for k, i in enumerate(rows)]
    leaks = [(i, js) for i, js in leaks if js]
    value = sum(len(js) for _, js in leaks)
    padded = details.get("skipped", 0)
    where += f"; {padded} padded positions skipped" if padded else ""  # neither outputs nor dependencies
    shown = f"{len(rows)} samples of a batch of {matrix.shape[1]}"
    if not leaks:
        return passed(
            GATE,
            0,
            0,
            f"backprop from {shown} reaches only the sample itself (gradient to {where}){note}",
            TIP,
            **details,
        )
    named = "; ".join(f"sample {i} -> samples {js[:8]}{' ...' if len(js) > 8 else ''}" for i, js in leaks[:4])
    return failed(
        GATE,
        value,
        0,
        f"the model mixes the batch: the outputs of a sample have gradient on other "
        f"samples' inputs ({named}); tested {shown}, gradient to {where}{note}. Likely causes: a "
        "`view`/`reshape` where a `permute`/`transpose` was needed (e.g. [T, B, C] viewed as [B, T*C]), "
        "a normalisation or mean over the batch axis (x - x.mean(0)), a softmax over the wrong axis "
        "(F.softmax without dim= on a 3-D tensor picks dim 0). "
        f"<gates.batch_independence.tolerance={tolerance}>",
        TIP,
        **details,
    )


GATE = Gate(
    name="batch_independence",
    stage="sanity",
    settings=BatchIndependenceSettings,
    tip=TIP,
    what="backprop from sample i reaches no other sample of the batch",
    checks=(independent_samples,),
    figures=("dependency",),
)
TRAINED_GATE = Gate(
    name="trained_batch_independence",
    stage="evaluate",
    settings=BatchIndependenceSettings,
    tip=TIP,
    what="batch_independence again, on the trained weights",
)
