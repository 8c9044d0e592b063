"""The dependency probes (tip 12) that `sanity` runs on the model at init and `evaluate` runs again on the
trained weights: batch independence and causality, each with its map drawn beside its gate."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from ..checks import causal_dependencies, independent_samples
from ..checks.base.gate import Gate
from ..checks.base.verdict import Verdict, skipped
from ..checks.batch_independence import GATE as BATCH_INDEPENDENCE
from ..checks.causality import GATE as CAUSALITY
from ..record.figures import dependency_figure
from .context import Built, RunContext


def probe_batch_independence(ctx: RunContext, built: Built, s, gate: Gate = BATCH_INDEPENDENCE) -> Verdict:
    batch = built.loaders.probe_batch(s.batch_size).to(ctx.device)
    verdict = independent_samples(built.model, batch, s.samples, s.tolerance, outputs=ctx.outputs)
    verdict = replace(verdict, gate=gate)
    return _mapped(ctx, verdict, "sample i (outputs)", "sample j (inputs)")


def probe_causality(ctx: RunContext, built: Built, s, gate: Gate = CAUSALITY) -> Verdict:
    """Only for tasks that declare `causal = True` (e.g. a character-level language model)."""
    if not built.task.causal:
        return skipped(gate, f"task '{built.task.name}' is not causal")
    batch = built.loaders.probe_batch(s.batch_size).to(ctx.device)
    verdict = causal_dependencies(built.model, batch, s.positions, s.tolerance, outputs=ctx.outputs)
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
