"""Gate `inputs_used`: every input feature that varies in the data reaches the model's output.

A model that reads only part of its input (a slice meant for something else, `x[:, :k]` where `x`
was meant, a mask applied to the wrong axis) still learns from what it reads, so every statistical
gate passes it and it ends up merely mediocre. Backprop shows it before any step: the gradient of
the outputs to a feature it never reads is exactly zero for every sample. Features that never vary
in the batch (a blank corner pixel) are not asked about. For token inputs the gradient is taken to
the first float tensor inside the model (an embedding's output), as the other backprop probes do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped
from .measure.probing import as_batch, grad_of, probed_forward, projection

TIP = "tip 12: use backprop to chart dependencies (the model reads its whole input)"
_LISTED = 12


@dataclass
class InputsUsedSettings(GateSettings):
    batch_size: int = bounded(32, low=2)  # real training samples in the probe batch


def inputs_reach_output(model: nn.Module, inputs: Any, *, outputs: ModelOutputs = DEFAULT_OUTPUTS) -> Verdict:
    """Backprop a fixed random projection of a copy's outputs (BatchNorm and Dropout in eval mode) to the
    inputs of a real batch; name the input features that vary across the batch but get no gradient at all.

    Usable on its own: `inputs_reach_output(model, batch_inputs).passed`.
    """
    batch = as_batch(inputs)
    probed = probed_forward(model, batch, outputs)
    if probed.leaf is None or not probed.outputs:
        return skipped(GATE, f"no differentiable input or output to probe ({probed.returned}){probed.note}", TIP)
    total = sum((o * w).sum() for o, w in zip(probed.outputs, projection(probed.outputs)))
    grad = grad_of(total, probed.leaf).detach().abs().sum(0).flatten()
    leaf = probed.leaf.detach()
    varies = (leaf.float().std(0).flatten() > 0) if len(leaf) > 1 else torch.ones_like(grad, dtype=torch.bool)
    unused = ((grad == 0) & varies).nonzero().flatten().tolist()
    asked = int(varies.sum())
    where = probed.where
    if not unused:
        return passed(
            GATE, 0, 0, f"all {asked} features that vary in the batch reach the output ({where}){probed.note}", TIP
        )
    shape = list(leaf.shape[1:])
    return failed(
        GATE,
        len(unused),
        0,
        f"{len(unused)} of {asked} input features that vary in the batch never reach the output ({where}, "
        f"features of shape {shape}, flat indices {_listed(unused)}): the model ignores part of its input. "
        "Likely causes: a slice or reshape that keeps part of the input (x[:, :k], a wrong axis), a mask or "
        "a multiplication by zero on the wrong features, a crop or stride that skips the border. If the "
        "model reads a subset on purpose, select the features in the data, or waive: "
        "<gates.inputs_used.waive=...>",
        TIP,
        unused=unused[:100],
    )


def _listed(values: list[int]) -> str:
    shown = ", ".join(str(v) for v in values[:_LISTED])
    return f"[{shown}{', ...' if len(values) > _LISTED else ''}]"


GATE = Gate(
    name="inputs_used",
    stage="sanity",
    settings=InputsUsedSettings,
    tip=TIP,
    what="every input feature that varies in the batch reaches the output",
    checks=(inputs_reach_output,),
    after=("params_learn",),
)
