"""Stage `sanity`: before any optimizer step, set the final bias from the data and check the loss."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import partial

from ..checks import (
    bias_reaches_output,
    causal_dependencies,
    every_param_learns,
    independent_samples,
    inputs_reach_output,
    loss_at_init,
    losses_agree,
    model_matches_reference,
    padding_ignored,
    switches_both_ways,
)
from ..checks.batch_independence import GATE as BATCH_INDEPENDENCE
from ..checks.causality import GATE as CAUSALITY
from ..checks.gate import Gate
from ..checks.grad_accumulation import GATE as GRAD_ACCUMULATION
from ..checks.grad_accumulation import accumulation_matches
from ..checks.init_bias import GATE as INIT_BIAS
from ..checks.init_loss import GATE as INIT_LOSS
from ..checks.inputs_used import GATE as INPUTS_USED
from ..checks.loopy_reference import GATE as LOOPY_REFERENCE
from ..checks.model_loss import GATE as MODEL_LOSS
from ..checks.modes import MODES
from ..checks.padding_ignored import GATE as PADDING_IGNORED
from ..checks.params_learn import GATE as PARAMS_LEARN
from ..checks.verdict import Verdict, skipped
from ..data.batch import Batch
from ..data.loaders import KEPT, Loaders
from ..models.head import find_head
from ..record.figures import dependency_figure
from .context import Prepared, RunContext

NAME = "sanity"


def run(ctx: RunContext, prep: Prepared) -> None:
    what_was_set = _set_final_bias(ctx, prep)
    model, task, loaders, device, read = prep.model, prep.task, prep.loaders, ctx.device, ctx.outputs
    targets = prep.train_summary.targets
    ctx.gates(MODES, lambda s: switches_both_ways(model, loaders.probe_batch().to(device), outputs=read))
    ctx.gates(
        INIT_BIAS,
        lambda s: bias_reaches_output(
            model, task, _first(loaders, s.batches), targets, prep.head or None, what_was_set, s, device, outputs=read
        ),
    )
    bias_set = prep.head is not None
    ctx.gates(
        INIT_LOSS,
        lambda s: loss_at_init(
            model, task, _first(loaders, s.batches), targets, s, device, bias_set, prep.head or None, outputs=read
        ),
    )
    ctx.gates(MODEL_LOSS, lambda s: _model_loss(ctx, prep, s))
    # padding_ignored before params_learn: a mask that hides every token also starves attention of
    # gradient, and this gate says why
    ctx.gates(
        PADDING_IGNORED,
        lambda s: padding_ignored(model, loaders.probe_batch(s.batch_size).to(device), s.tolerance, outputs=read),
    )
    ctx.gates(
        PARAMS_LEARN, lambda s: every_param_learns(model, task.loss, loaders.probe_batch().to(device), outputs=read)
    )
    ctx.gates(
        INPUTS_USED, lambda s: inputs_reach_output(model, loaders.probe_batch(s.batch_size).to(device), outputs=read)
    )
    ctx.gates(GRAD_ACCUMULATION, lambda s: _accumulation(ctx, prep, s.rtol))
    ctx.gates(BATCH_INDEPENDENCE, lambda s: _batch_independence(ctx, prep, s))
    ctx.gates(CAUSALITY, lambda s: _causality(ctx, prep, s))
    ctx.gates(LOOPY_REFERENCE, lambda s: model_matches_reference(model, loaders.probe_batch().to(device), s))


def _first(loaders: Loaders, count: int) -> Iterable[Batch]:
    """The first `count` probe batches: kept and shared by the gates that read the same ones (init_bias,
    init_loss, params_learn ...), or streamed when there are many."""
    return loaders.probe_batches(count) if count <= KEPT else loaders.probe()


def _set_final_bias(ctx: RunContext, prep: Prepared) -> str:
    """Tip 5 is an action, not only a check: the bias is set whether or not its gate runs."""
    name, head = find_head(prep.model, prep.task.head_size(), ctx.settings.model_head)
    prep.head = name
    if head is None:
        return ""
    return prep.task.init_bias(head.bias, prep.train_summary.targets)


def _accumulation(ctx: RunContext, prep: Prepared, rtol: float) -> Verdict:
    """k micro-batches of the training batch size against the one batch of k times that size."""
    k = int(ctx.settings.accelerator.gradient_accumulation_steps)
    if k <= 1:
        return accumulation_matches(prep.model, prep.task.loss, None, k, rtol)  # type: ignore[arg-type]
    batch = prep.loaders.probe_batch(k * prep.loaders.train_batch_size).to(ctx.device)
    return accumulation_matches(prep.model, prep.task.loss, batch, k, rtol, outputs=ctx.outputs)


def _model_loss(ctx: RunContext, prep: Prepared, s) -> Verdict:
    """Only for a run that trains on the model's own loss (model_output.model_loss=true)."""
    if not ctx.settings.model_output.model_loss:
        return skipped(
            "model_loss", "the run trains on the task's loss from the logits <model_output.model_loss=false>"
        )
    return losses_agree(prep.model, prep.task.loss, prep.loaders.probe(), s, ctx.device, outputs=ctx.outputs)


def _batch_independence(ctx: RunContext, prep: Prepared, s, gate: Gate = BATCH_INDEPENDENCE) -> Verdict:
    batch = prep.loaders.probe_batch(s.batch_size).to(ctx.device)
    verdict = independent_samples(prep.model, batch, s.samples, s.tolerance, outputs=ctx.outputs)
    verdict = replace(verdict, gate=gate)
    return _mapped(ctx, verdict, "sample i (outputs)", "sample j (inputs)")


def _causality(ctx: RunContext, prep: Prepared, s, gate: Gate = CAUSALITY) -> Verdict:
    """Only for tasks that declare `causal = True` (e.g. a character-level language model)."""
    if not prep.task.causal:
        return skipped(gate, f"task '{prep.task.name}' is not causal")
    batch = prep.loaders.probe_batch(s.batch_size).to(ctx.device)
    verdict = causal_dependencies(prep.model, batch, s.positions, s.tolerance, outputs=ctx.outputs)
    verdict = replace(verdict, gate=gate)
    return _mapped(ctx, verdict, "position t (outputs)", "position s (inputs)")


def _mapped(ctx: RunContext, verdict: Verdict, row_label: str, col_label: str) -> Verdict:
    """Draw the dependency map of a backprop check beside its gate (before a failure halts the run)."""
    if "dependency" in verdict.details:
        name = "dependency" if verdict.gate == BATCH_INDEPENDENCE.name else verdict.gate
        where = verdict.details["where"].split(",")[0]
        title = (
            f"{verdict.gate}: |d output / d input|, gradient to {where}\nred box: the output's own input; "
            f"{'every other sample' if 'batch' in verdict.gate else 'every position right of it'} must be white"
        )
        details = verdict.details
        figure = partial(dependency_figure, details["dependency"], details["rows"], row_label, col_label, title)
        ctx.record.publish(verdict.gate, name, figure)  # a partial: drawn in the background
    return verdict
