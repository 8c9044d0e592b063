"""Gate `causality`: in a causal sequence model, output position t depends on inputs at positions
<= t only, and on position t itself.

A causal mask off by one (`tril(ones, diagonal=1)`), inverted or missing lets position t see the
future: training loss falls fast, generation is useless. Backprop shows it before any step.
Runs when the task declares `causal = True`; the time axis is dim 1 of inputs and outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import torch
from torch import nn

from ..data.batch import Batch
from ..data.padding import attended_positions
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped
from .measure.attention_paths import blind_positions
from .measure.probing import as_batch, grads_of, nonfinite_gradients, probed_forward, projection, spread

TIP = "tip 12: use backprop to chart dependencies (no peeking at the future)"


@dataclass
class CausalitySettings(GateSettings):
    batch_size: int = bounded(4, low=1)  # sequences in the probe batch (real training inputs)
    # Output positions t backpropagated from (one backward pass each), spread over the sequence with
    # the first and last included; 0: every position.
    positions: int = bounded(32, low=0)
    # Largest gradient allowed on a future position, relative to the largest on positions <= t.
    tolerance: float = bounded(0.0, low=0)


def causal_dependencies(
    model: nn.Module,
    inputs: Any,
    positions: int = 0,
    tolerance: float = 0.0,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """For output positions t, backprop from a random projection of the outputs at t (all samples)
    to the inputs (or the embedding output, for token ids); require zero gradient after t and a
    non-zero gradient at t. Usable on its own: `causal_dependencies(model, tokens).passed`."""
    inputs = as_batch(inputs)  # a tensor, a tuple of inputs, a dict of keyword inputs, or a Batch
    main = inputs.first_input
    if main is None or main.dim() < 2:
        shape = list(main.shape) if main is not None else None
        return skipped(GATE, f"inputs have shape {shape}: no time axis (dim 1) to probe", TIP)
    rows = probed_positions(inputs, positions)
    if not rows:
        return skipped(GATE, "every position of the probe batch is padding: nothing to probe", TIP)
    matrix, where, note = time_dependencies(model, inputs, positions, outputs)
    if matrix is None:
        return skipped(GATE, f"{where}{note}", TIP)
    skipped_positions = main.shape[1] - len(attended_positions(inputs.padding_mask, main.shape[1]))
    details = {"dependency": matrix.tolist(), "rows": rows, "where": where, "skipped": skipped_positions}
    verdict = _judge(matrix, rows, where, note, tolerance, details)
    return _attention_sees_itself(model, inputs, positions, verdict, outputs) if verdict.passed else verdict


def _attention_sees_itself(
    model: nn.Module, inputs: Any, positions: int, verdict: Verdict, outputs: ModelOutputs
) -> Verdict:
    """Through the residual stream the model sees token t; each of its attention layers must too."""
    found = blind_positions(model, inputs, positions, outputs)
    blind = {name: ts for name, ts in found.items() if ts}
    if not blind:
        said = f"; each of {len(found)} attention layers sees its own position" if found else ""
        return replace(verdict, message=verdict.message + said)
    named = "; ".join(f"`{name}` at positions {ts[:8]}" for name, ts in list(blind.items())[:4])
    return failed(
        GATE,
        sum(len(ts) for ts in blind.values()),
        0,
        f"attention layers do not see their own position: the output at t has no gradient on the layer's "
        f"input at t ({named}). The model still looks causal because the residual stream carries token t "
        "(and scaled_dot_product_attention returns zeros for a row with every position masked). Likely "
        "causes: the causal mask masks the diagonal too (torch.triu(ones, diagonal=0) as the mask, or "
        "tril(..., diagonal=-1)), an off-by-one in a hand-written mask. <gates.causality.positions>",
        TIP,
        **verdict.details,
    )


def probed_positions(batch: Batch, positions: int = 0) -> list[int]:
    """The output positions t the probe backpropagates from: `positions` of them spread evenly over the
    positions where some item of the batch is real (first and last included). A position that is padding in
    every item (`padding="max_length"` pads every line past its end) has no real output and no real input
    to see, so it is not judged; the messages say how many were skipped."""
    length = batch.first_input.shape[1]
    attended = attended_positions(batch.padding_mask, length)
    return [attended[k] for k in spread(len(attended), positions)]


def time_dependencies(
    model: nn.Module, inputs: Any, positions: int = 0, outputs: ModelOutputs = DEFAULT_OUTPUTS
) -> tuple[Optional[torch.Tensor], str, str]:
    """|d out_t / d in_s| summed over samples and features: one row per tested t, one column per s."""
    inputs = as_batch(inputs)
    probed, length = probed_forward(model, inputs, outputs), inputs.first_input.shape[1]
    leaf, note = probed.leaf, probed.note
    outputs = [o for o in probed.outputs if o.dim() >= 2 and o.shape[1] == length]
    if leaf is None or leaf.dim() < 2 or leaf.shape[1] != length:
        return None, "no float tensor with the input's time axis was found inside the model", note
    if not outputs:
        return None, f"the model returned no output shaped [B, T={length}, ...]", note
    weights = projection([o[:, 0] for o in outputs])  # one weight per feature, the same at every t
    leaves = [x for x in probed.leaves if x.dim() >= 2 and x.shape[1] == length]
    found = []
    for t in probed_positions(inputs, positions):  # outputs at t of the items real there; gradient at real positions
        scalar = sum(_at(probed, o, t, w) for o, w in zip(outputs, weights))
        grads = [probed.masked(g).abs().transpose(0, 1).reshape(length, -1).sum(1) for g in grads_of(scalar, leaves)]
        found.append(sum(grads).float().cpu())
    return torch.stack(found), probed.where, note


def _at(probed, output: torch.Tensor, t: int, weight: torch.Tensor) -> torch.Tensor:
    """sum over samples of output[:, t] * weight, counting only the samples whose position t is real."""
    value = output[:, t] * weight
    real = probed.real(output)
    return (value if real is None else torch.where(real[:, t], value, torch.zeros_like(value))).sum()


def _judge(matrix: torch.Tensor, rows: list[int], where: str, note: str, tolerance: float, details: dict) -> Verdict:
    future, blind = [], []
    if not bool(torch.isfinite(matrix).all()):
        return nonfinite_gradients(GATE, where, note, TIP, details)
    for k, t in enumerate(rows):
        past = float(matrix[k, : t + 1].max())
        ahead = (matrix[k, t + 1 :] > tolerance * past).nonzero().flatten() + t + 1
        if len(ahead):
            future.append((t, ahead.tolist()))
        if float(matrix[k, t]) == 0.0:
            blind.append(t)
    skipped = details.get("skipped", 0)
    shown = f"{len(rows)} positions of {matrix.shape[1]}"
    shown += f", {skipped} padding in every item skipped" if skipped else ""
    if not future and not blind:
        return passed(
            GATE,
            0,
            0,
            f"output t depends on inputs <= t only, and on t itself ({shown}; gradient to {where}){note}",
            TIP,
            **details,
        )
    found = [f"position {t} sees the future {s[:6]}{' ...' if len(s) > 6 else ''}" for t, s in future[:4]]
    if blind:
        found.append(f"positions {blind[:8]} do not see themselves")
    return failed(
        GATE,
        sum(len(s) for _, s in future) + len(blind),
        0,
        f"the model is not causal: {'; '.join(found)} ({shown}; gradient to {where}){note}. Likely "
        "causes: a causal mask off by one (torch.tril(ones, diagonal=1) lets t see t+1), an inverted or "
        "missing mask, the diagonal masked too (triu(ones, diagonal=0)), a convolution padded on both "
        f"sides, a bidirectional layer. <gates.causality.tolerance={tolerance}>",
        TIP,
        **details,
    )


GATE = Gate(
    name="causality",
    stage="sanity",
    settings=CausalitySettings,
    tip=TIP,
    what="causal tasks: output t depends on no input after t, and each attention layer's output at t on its input at t",
    checks=(causal_dependencies,),
    figures=("causality",),
    applies=("causal",),
)
TRAINED_GATE = Gate(
    name="trained_causality",
    stage="evaluate",
    settings=CausalitySettings,
    tip=TIP,
    what="causality again, on the trained weights",
    figures=("trained_causality",),
    applies=("causal",),
)
