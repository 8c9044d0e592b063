"""Stage `overfit`: a copy of the initialised model must memorise one small fixed batch (tip 8)."""

from __future__ import annotations

from ..checks import overfit_batch
from ..checks.base.verdict import Verdict
from ..checks.overfit import GATE as OVERFIT
from ..data.seeding import seed_everything
from ..record.figures import predictions_figure
from ..tasks.base import HasOverfitFloor, PredictsRight
from .context import Built, RunContext

NAME = "overfit"


def run(ctx: RunContext, built: Built) -> None:
    ctx.gates(OVERFIT, lambda s: _overfit(ctx, built, s))


def _overfit(ctx: RunContext, built: Built, settings) -> Verdict:
    seed_everything(ctx.seed, ctx.settings.deterministic)
    batch = built.loaders.fixed_batch(settings.batch_size).to(ctx.device)
    task = built.task
    floor = task.overfit_floor(batch.first_input, batch.targets) if isinstance(task, HasOverfitFloor) else 0.0
    right = task.predicted_right if isinstance(task, PredictsRight) else None
    optimizer = ctx.builders.optimizer
    verdict = overfit_batch(built.model, task.loss, batch, None, optimizer, settings, floor, right, outputs=ctx.outputs)
    _plot(ctx, built, batch, verdict)
    return verdict


def _plot(ctx: RunContext, built: Built, batch, verdict: Verdict) -> None:
    """Labels against predictions of the overfit batch (tip 8), drawn before a failure halts the run."""
    title = f"overfit batch after {verdict.details.get('steps')} steps, loss {verdict.value}"
    outputs, targets = verdict.details["outputs"], batch.targets.cpu()
    ctx.record.publish(
        OVERFIT, "overfit", lambda: predictions_figure(built.task.view_predictions(outputs, targets), title)
    )
