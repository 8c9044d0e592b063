"""Stage `sanity`: before any optimizer step, set the final bias from the data and check the loss."""
from __future__ import annotations

import copy

import torch

from ..checks import (bias_from_data, causal_dependencies, every_param_learns, independent_samples, loss_matches,
                      model_matches_reference)
from ..checks.verdict import Verdict, skipped
from ..context import RunContext
from ..figures import dependency_figure, publish
from ..head import find_head
from ..loop import to_device

NAME = "sanity"


def run(ctx: RunContext) -> None:
    head_name, what_was_set = _set_final_bias(ctx)
    outputs, loss_at_init = _outputs_at_init(ctx, int(ctx.cfg.gates.init_loss.batches))
    ctx.gate("init_bias", lambda s: _bias_verdict(ctx, head_name, what_was_set, outputs, s))
    ctx.gate("init_loss", lambda s: loss_matches(loss_at_init,
                                                 *ctx.task.expected_init_loss(ctx.train_summary.targets), s))
    ctx.gate("params_learn", lambda s: every_param_learns(ctx.model, ctx.task.loss, *_probe_batch(ctx)))
    ctx.gate("batch_independence", lambda s: _batch_independence(ctx, s))
    ctx.gate("causality", lambda s: _causality(ctx, s))
    ctx.gate("loopy_reference", lambda s: model_matches_reference(ctx.model, _probe_batch(ctx)[0], s))


def _set_final_bias(ctx: RunContext) -> tuple[str | None, str]:
    """Tip 5 is an action, not only a check: the bias is set whether or not its gate runs."""
    name, head = find_head(ctx.model, ctx.task.head_size(), ctx.cfg.get("model_head"))
    if head is None:
        return None, ""
    return name, ctx.task.init_bias(head.bias, ctx.train_summary.targets)


def _outputs_at_init(ctx: RunContext, batches: int, zero_head: str | None = None) -> tuple[torch.Tensor, float]:
    """Outputs and mean loss of the model as it starts, in training mode, with no step taken
    (with the weights of module `zero_head` set to zero, if given: then its output is its bias).

    A copy runs them, so BatchNorm statistics of the real model stay untouched. The mean is per
    example: a short last batch must not weigh as much as a full one.
    """
    probe = copy.deepcopy(ctx.model).train()
    head_weight = getattr(probe.get_submodule(zero_head), "weight", None) if zero_head is not None else None
    if isinstance(head_weight, torch.Tensor):
        with torch.no_grad():
            head_weight.zero_()
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
    uniform_gap, _ = ctx.task.prior_gap(torch.zeros_like(outputs[:1]), targets)
    with_weights, meaning = ctx.task.prior_gap(outputs, targets)
    if head_name is None:
        return bias_from_data(None, what_was_set, with_weights, meaning, uniform_gap, settings)
    bias_only, _ = _outputs_at_init(ctx, 1, zero_head=head_name)  # the output is then the bias alone
    gap, _ = ctx.task.prior_gap(bias_only, targets)
    return bias_from_data(head_name, what_was_set, gap, meaning, uniform_gap, settings, with_weights)


def _probe_batch(ctx: RunContext, size: int | None = None) -> tuple:
    """A real training batch (the gates' own shuffle), on the device."""
    return tuple(to_device(next(iter(ctx.probe_loader(size))), ctx.device))


def _batch_independence(ctx: RunContext, s) -> Verdict:
    inputs = _probe_batch(ctx, s.batch_size)[0]
    verdict = independent_samples(ctx.model, inputs, s.samples, s.tolerance)
    return _mapped(ctx, verdict, "sample i (outputs)", "sample j (inputs)")


def _causality(ctx: RunContext, s) -> Verdict:
    """Only for tasks that declare `causal = True` (e.g. a character-level language model)."""
    if not ctx.task.causal:
        return skipped("causality", f"task '{ctx.task.name}' is not causal")
    verdict = causal_dependencies(ctx.model, _probe_batch(ctx, s.batch_size)[0], s.positions, s.tolerance)
    return _mapped(ctx, verdict, "position t (outputs)", "position s (inputs)")


def _mapped(ctx: RunContext, verdict: Verdict, row_label: str, col_label: str) -> Verdict:
    """Draw the dependency map of a backprop check beside its gate (before a failure halts the run)."""
    if "dependency" in verdict.details and ctx.cfg.output.figures:
        name = "dependency" if verdict.gate == "batch_independence" else verdict.gate
        where = verdict.details["where"].split(",")[0]
        title = (f"{verdict.gate}: |d output / d input|, gradient to {where}\nred box: the output's own input; "
                 f"{'every other sample' if name == 'dependency' else 'every position right of it'} must be white")
        publish(ctx, verdict.gate, name, lambda: dependency_figure(
            verdict.details["dependency"], verdict.details["rows"], row_label, col_label, title))
    return verdict
