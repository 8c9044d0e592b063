"""Stage `sanity`: before any optimizer step, set the final bias from the data and check the loss."""
from __future__ import annotations

import copy

import torch

from ..checks import bias_from_data, loss_matches
from ..context import RunContext
from ..head import find_head
from ..loop import to_device

NAME = "sanity"


def run(ctx: RunContext) -> None:
    head_name, what_was_set = _set_final_bias(ctx)
    outputs, loss_at_init = _outputs_at_init(ctx, int(ctx.cfg.gates.init_loss.batches))
    ctx.gate("init_bias", lambda s: _bias_verdict(ctx, head_name, what_was_set, outputs, s))
    ctx.gate("init_loss", lambda s: loss_matches(loss_at_init,
                                                 *ctx.task.expected_init_loss(ctx.train_summary.targets), s))


def _set_final_bias(ctx: RunContext) -> tuple[str | None, str]:
    """Tip 5 is an action, not only a check: the bias is set whether or not its gate runs."""
    name, head = find_head(ctx.model, ctx.task.head_size(), ctx.cfg.get("model_head"))
    if head is None:
        return None, ""
    return name, ctx.task.init_bias(head.bias, ctx.train_summary.targets)


def _outputs_at_init(ctx: RunContext, batches: int) -> tuple[torch.Tensor, float]:
    """Outputs and mean loss of the model as it starts, in training mode, with no step taken.

    A copy runs them, so BatchNorm statistics of the real model stay untouched. The mean is per
    example: a short last batch must not weigh as much as a full one.
    """
    probe = copy.deepcopy(ctx.model).train()
    outputs, total, count = [], 0.0, 0
    with torch.no_grad():
        for i, batch in enumerate(ctx.probe_loader()):
            if i == batches:
                break
            inputs, targets = to_device(batch, ctx.device)
            out = probe(inputs)
            outputs.append(out.float().cpu())
            total += float(ctx.task.loss(out, targets)) * len(targets)
            count += len(targets)
    return torch.cat(outputs), total / count


def _bias_verdict(ctx: RunContext, head_name, what_was_set, outputs, settings):
    targets = ctx.train_summary.targets
    gap, meaning = ctx.task.prior_gap(outputs, targets)
    uniform_gap, _ = ctx.task.prior_gap(torch.zeros_like(outputs[:1]), targets)
    return bias_from_data(head_name, what_was_set, gap, meaning, uniform_gap, settings)
