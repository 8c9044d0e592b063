"""Gate `padding_ignored`: the content of padded positions reaches no output at a real position, and
every real position reaches some output.

A padding collator pads each batch to its longest sequence and hands the model a mask (`attention_mask`)
that says which positions are real. A mask that is ignored, misbuilt, or taken from one sample for the
whole batch lets padding change the outputs (or hides real tokens): training still runs and the loss
still falls, and a sample's prediction depends on what it was batched with. Backprop shows it before
any step: the gradient of the outputs at real positions must be exactly zero at every padded position
of the embedding output (changing padded content changes nothing), and non-zero at every real one.
The probe changes content, never a sample's length, so the batch keeps its padded shape.
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
from .measure.probing import as_batch, grads_of, probed_forward, projection

TIP = "tip 12: use backprop to chart dependencies (padding is no dependency)"
CAUSES = (
    "the attention mask ignored (not passed on to the attention, or dropped by a wrapper's forward), one "
    "sample's mask applied to the whole batch (mask[0] broadcast), a key misrouted (token_type_ids fed as "
    "attention_mask), a mask of the wrong polarity (1 for padding), pooling over every position without "
    "the mask (a mean over T)"
)


@dataclass
class PaddingIgnoredSettings(GateSettings):
    batch_size: int = bounded(16, low=2)  # sequences in the probe batch (real training batches, padded)
    # Largest gradient allowed on a padded position, relative to the largest on a real one. 0: any
    # non-zero gradient leaks (a mask that holds gives exact zeros: exp(-inf) = 0).
    tolerance: float = bounded(0.0, low=0)


def padding_ignored(
    model: nn.Module, inputs: Any, tolerance: float = 0.0, *, outputs: ModelOutputs = DEFAULT_OUTPUTS
) -> Verdict:
    """Backprop from a random projection of every output at a real position (the padding mask, the
    batch's `data.mask_key`) to the embedding output (or float inputs); any gradient on a padded position,
    or none on a real one, fails. Usable on its own: `padding_ignored(model, collated_batch).passed`."""
    batch = as_batch(inputs)
    mask = batch.padding_mask
    if mask is None:
        return skipped(GATE, f"the batch holds no padding mask `{batch.format.mask_key}` <data.mask_key>", TIP)
    empty = (~mask).all(1).nonzero().flatten().tolist()
    if empty:
        return failed(
            GATE,
            len(empty),
            0,
            f"`{batch.format.mask_key}` marks every position of samples {empty[:8]} as padding: nothing of them "
            f"is real. Likely causes: a key misrouted (token_type_ids, all 0 for one segment, fed as "
            f"{batch.format.mask_key}), a mask of the wrong polarity, an empty sequence in the data.",
            TIP,
        )
    if bool(mask.all()):
        return skipped(GATE, f"no padded positions in the probe batch of {len(batch)}", TIP)
    probed = probed_forward(model, batch, outputs)
    leaves = [x for x in probed.leaves if probed.real(x) is not None]
    if not leaves or not probed.outputs:
        return skipped(GATE, f"no tensor shaped like the mask {list(mask.shape)} to probe at {probed.where}", TIP)
    scalar = sum(probed.projected(o, w) for o, w in zip(probed.outputs, projection(probed.outputs)))
    grads = grads_of(scalar, leaves)
    reach = sum(g.abs().reshape(*mask.shape, -1).sum(-1).float().cpu() for g in grads)
    return _judge(reach, mask.cpu(), probed.where + probed.note, tolerance)


def _judge(reach: torch.Tensor, mask: torch.Tensor, where: str, tolerance: float) -> Verdict:
    """`reach` [B, T]: |d outputs at real positions / d input at (b, t)|; `mask` True at real positions."""
    details = {"padded": int((~mask).sum()), "real": int(mask.sum()), "skipped": int((~mask).all(0).sum())}
    if not bool(torch.isfinite(reach[mask]).all()):
        return failed(
            GATE,
            float("nan"),
            "finite",
            f"backprop gave NaN/Inf gradients at real positions ({where}): an attention row with every "
            "position masked, a division by the number of real positions when it is 0.",
            TIP,
            **details,
        )
    limit = tolerance * float(reach[mask].max())
    leaking = (~mask) & (torch.nan_to_num(reach, nan=1.0) > limit)
    blind = mask & (reach == 0)
    shown = f"{len(mask)} sequences, {details['padded']} padded and {details['real']} real positions"
    if details["skipped"]:  # no output to read there; their content must still reach no real output
        shown += f"; {details['skipped']} of {mask.shape[1]} positions padding in every item"
    if not bool(leaking.any()) and not bool(blind.any()):
        return passed(
            GATE,
            0,
            0,
            f"padded positions reach no output and every real position does ({shown}; gradient to {where})",
            TIP,
            **details,
        )
    found = []
    if bool(leaking.any()):
        rows = leaking.any(1).nonzero().flatten().tolist()
        found.append(
            f"the content of {int(leaking.sum())} padded positions (samples {rows[:8]}) changes outputs at "
            "real positions"
        )
    if bool(blind.any()):
        rows = blind.any(1).nonzero().flatten().tolist()
        found.append(f"{int(blind.sum())} real positions (samples {rows[:8]}) reach no output, as if padding")
    return failed(
        GATE,
        int(leaking.sum() + blind.sum()),
        0,
        f"the padding mask does not hold: {'; '.join(found)} ({shown}; gradient to {where}). Likely causes: "
        f"{CAUSES}. <gates.{GATE}.tolerance={tolerance}>",
        TIP,
        **details,
    )


GATE = Gate(
    name="padding_ignored",
    stage="sanity",
    settings=PaddingIgnoredSettings,
    tip=TIP,
    what="padded batches: no output at a real position depends on a padding position",
    checks=(padding_ignored,),
    applies=("padded",),
)
