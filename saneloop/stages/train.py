"""Stage `train`: the full run, on Accelerate, costing what a hand-written loop costs."""
from __future__ import annotations

from typing import Any, Optional

import torch
from tqdm.auto import tqdm

from ..build import build_optimizer, build_scheduler, build_train_loader
from ..checks import loss_decreased
from ..context import RunContext
from ..distributed import earliest
from ..seeding import seed_everything

NAME = "train"


def run(ctx: RunContext) -> None:
    # Reseed: the training stream must not depend on which gates ran before it. Each process gets
    # its own stream (dropout, augmentation in the dataset): seed + process index, as Accelerate's
    # set_seed(device_specific=True); the data order is shared and sharded by `prepare`.
    seed_everything(ctx.seed + ctx.accelerator.process_index, ctx.cfg.deterministic)
    optimizer = build_optimizer(ctx.cfg, list(ctx.model.parameters()))
    scheduler = build_scheduler(ctx.cfg, optimizer)
    loader = build_train_loader(ctx.cfg, ctx.train_set, ctx.seed)
    model, optimizer, loader = ctx.accelerator.prepare(ctx.model, optimizer, loader)
    if scheduler is not None:
        scheduler = ctx.accelerator.prepare(scheduler)
    losses, nonfinite_step = _fit(ctx, model, optimizer, scheduler, loader)
    ctx.state["trained_model"] = model
    ctx.state["train_losses"] = losses
    ctx.gate("loss_decreases", lambda s: loss_decreased(losses, s, nonfinite_step))


def _fit(ctx: RunContext, model, optimizer, scheduler, loader) -> tuple[torch.Tensor, Optional[int]]:
    """Train for the configured epochs/steps. Losses stay on the device and are read every
    `train.log_every` steps (one host sync each), where NaN/Inf stops the run early."""
    cfg, accelerator = ctx.cfg.train, ctx.accelerator
    total = len(loader) * int(cfg.epochs)
    if cfg.max_steps is not None:
        total = min(total, int(cfg.max_steps))
    losses = torch.zeros(total, device=accelerator.device)
    bar = tqdm(total=total, desc="train", unit="step", disable=not (ctx.cfg.output.progress and
               accelerator.is_main_process), mininterval=0.5, leave=False)
    step, logged = 0, 0
    model.train()
    try:
        while step < total:
            for inputs, targets in loader:
                losses[step] = _step(ctx, model, optimizer, scheduler, inputs, targets)
                step += 1
                if step % int(cfg.log_every) == 0 or step == total:
                    bad = earliest(ctx.accelerator, _log(ctx, losses[logged:step], logged, bar))  # all stop
                    if bad is not None:
                        return losses[:step], bad
                    logged = step
                if step == total:
                    break
    finally:
        bar.close()
    return losses[:step], None


def _step(ctx: RunContext, model, optimizer, scheduler, inputs, targets) -> torch.Tensor:
    accelerator = ctx.accelerator
    with accelerator.accumulate(model):
        loss = ctx.task.loss(model(inputs), targets)
        accelerator.backward(loss)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def _log(ctx: RunContext, chunk: torch.Tensor, first_step: int, bar: Any) -> Optional[int]:
    """Log a chunk of step losses; return the first non-finite step, if any."""
    finite = torch.isfinite(chunk)
    if not bool(finite.all()):
        return first_step + int((~finite).nonzero()[0])
    mean = float(chunk.mean())
    ctx.tracker.scalar("train/loss", mean, first_step + len(chunk))
    bar.update(len(chunk))
    bar.set_postfix(loss=f"{mean:.4f}", refresh=False)
    return None
