"""Stage `overfit`: a copy of the initialised model must memorise one small fixed batch."""
from __future__ import annotations

import copy

from ..build import build_optimizer
from ..checks import overfit_batch
from ..context import RunContext
from ..loop import to_device
from ..tasks.base import HasOverfitFloor

NAME = "overfit"


def run(ctx: RunContext) -> None:
    ctx.gate("overfit", lambda s: _overfit(ctx, s))


def _overfit(ctx: RunContext, settings):
    model = copy.deepcopy(ctx.model)
    optimizer = build_optimizer(ctx.cfg, list(model.parameters()), lr=settings.lr)
    inputs, targets = to_device(ctx.fixed_batch(settings.batch_size), ctx.device)
    floor = ctx.task.overfit_floor(inputs, targets) if isinstance(ctx.task, HasOverfitFloor) else 0.0
    verdict = overfit_batch(model, optimizer, ctx.task.loss, inputs, targets, settings, floor)
    ctx.state["overfit"] = {"model": model, "inputs": inputs, "targets": targets}
    return verdict
