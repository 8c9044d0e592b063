"""Stage `overfit`: a copy of the initialised model must memorise one small fixed batch (tip 8)."""

from __future__ import annotations

import torch

from ..checks import overfit_batch
from ..checks.base.verdict import Verdict
from ..checks.overfit import GATE as OVERFIT
from ..data.batch import Batch
from ..data.sample import covering_every_class
from ..data.seeding import seed_everything
from ..data.streams import Stream, generator
from ..data.validation import class_labels
from ..record.figures import predictions_figure
from ..tasks.base import HasOverfitFloor, PredictsRight
from .context import Built, RunContext

NAME = "overfit"


def run(ctx: RunContext, built: Built) -> None:
    ctx.gates(OVERFIT, lambda s: _overfit(ctx, built, s))


def _overfit(ctx: RunContext, built: Built, settings) -> Verdict:
    seed_everything(ctx.seed, ctx.settings.deterministic)
    batch = _fixed_batch(ctx, built, settings.batch_size).to(ctx.device)
    task = built.task
    floor = task.overfit_floor(batch.first_input, batch.targets) if isinstance(task, HasOverfitFloor) else 0.0
    right = task.predicted_right if isinstance(task, PredictsRight) else None
    optimizer = ctx.builders.optimizer
    verdict = overfit_batch(built.model, task.loss, batch, None, optimizer, settings, floor, right, outputs=ctx.outputs)
    _plot(ctx, built, batch, verdict)
    return verdict


def _fixed_batch(ctx: RunContext, built: Built, size: int) -> Batch:
    """The seeded random draw, with every class of the training set in it when the batch has room."""
    drawn = built.loaders.fixed_batch(size)
    order = torch.randperm(len(built.train_set), generator=generator(ctx.seed, Stream.FIXED_BATCH))  # type: ignore[arg-type]
    picks = covering_every_class(order, class_labels(built.train_summary.targets), size)
    return drawn if picks is None else built.loaders.items(built.train_set, picks)


def _plot(ctx: RunContext, built: Built, batch, verdict: Verdict) -> None:
    """Labels against predictions of the overfit batch (tip 8), drawn before a failure halts the run."""
    title = f"overfit batch after {verdict.details.get('steps')} steps, loss {verdict.value}"
    outputs, targets = verdict.details["outputs"], batch.targets.cpu()
    ctx.record.publish(
        OVERFIT, "overfit", lambda: predictions_figure(built.task.view_predictions(outputs, targets), title)
    )
