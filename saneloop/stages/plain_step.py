"""One plain training step of the run's model, timed in setup: the unit the gates' cost is counted in.

A scratch copy of the model with the run's optimizer takes a warm-up step, then two more, timed, on one real
training batch (zero_grad, forward, backward, step, as a hand-written loop does); the median is the step.
The copy is freed before any gate trains, and the random state is as it was: no later draw moves.
"""

from __future__ import annotations

import copy
import gc
import statistics
import time

import torch
from rich.markup import escape

from ..checks.measure.fitting import same_draws, step, trainable
from .context import Built, RunContext

TIMED = 2  # steps timed after the warm-up one


def time_plain_step(ctx: RunContext, built: Built) -> float:
    """Seconds of one plain training step (the slowest process's, when there are several)."""
    scratch = copy.deepcopy(built.model)
    optimizer = ctx.builders.optimizer(trainable(scratch))
    batch = built.loaders.probe_batch().to(ctx.device)
    times = []
    with same_draws(ctx.seed):
        scratch.train()
        for _ in range(1 + TIMED):
            _synchronize(ctx.device)
            began = time.perf_counter()
            step(scratch, optimizer, built.task.loss, batch, ctx.outputs)
            _synchronize(ctx.device)
            times.append(time.perf_counter() - began)
    del scratch, optimizer, batch
    gc.collect()
    if ctx.device.type == "cuda":
        torch.cuda.empty_cache()
    seconds = max(statistics.median(times[1:]), 1e-6)
    if ctx.accelerator.num_processes > 1:  # every process counts the same budget
        seconds = float(ctx.accelerator.gather(torch.tensor([seconds], device=ctx.device)).max())
    return seconds


def start_ledger(ctx: RunContext, built: Built) -> None:
    """Time the step, start the gates' budget from it, and say both (report `cost`, the console once)."""
    ledger = ctx.gates.ledger
    ledger.start(time_plain_step(ctx, built))
    ctx.record.report.cost.update(ledger.summary())
    ctx.record.terminal.print(f"  [dim]cost:[/] {escape(ledger.describe())}")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
