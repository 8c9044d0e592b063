"""Stage `overfit`: a copy of the initialised model must memorise one small fixed batch."""
from __future__ import annotations

import copy

import torch

from ..build import build_optimizer
from ..checks import overfit_batch
from ..context import RunContext
from ..figures import predictions_figure, publish
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
    _plot(ctx, model, inputs, targets, verdict)
    return verdict


def _plot(ctx: RunContext, model, inputs, targets, verdict) -> None:
    """Labels against predictions of the overfit batch (tip 8), drawn before a failure halts the run."""
    if not ctx.cfg.output.figures:
        return
    title = f"overfit batch after {verdict.details.get('steps')} steps, loss {verdict.value}"

    def draw():
        with torch.no_grad():
            outputs = model(inputs)  # in the mode the gate trained in (Dropout off)
        return predictions_figure(ctx.task.view_predictions(outputs.float().cpu(), targets.cpu()), title)
    publish(ctx, "overfit", "overfit", draw)
