"""Stage `train`: the full run, on Accelerate, costing what a hand-written loop costs."""
from __future__ import annotations

from typing import Any, Optional

import torch
from tqdm.auto import tqdm

from ..build import build_optimizer, build_scheduler, build_train_loader
from ..checkpoint import Checkpointer
from ..checks import loss_decreased
from ..context import RunContext
from ..seeding import seed_everything

NAME = "train"


def run(ctx: RunContext) -> None:
    # Reseed: the training stream must not depend on which gates ran before it.
    seed_everything(ctx.seed, ctx.cfg.deterministic)
    optimizer = build_optimizer(ctx.cfg, list(ctx.model.parameters()))
    scheduler = build_scheduler(ctx.cfg, optimizer)
    loader = build_train_loader(ctx.cfg, ctx.train_set, ctx.seed)
    model, optimizer, loader = ctx.accelerator.prepare(ctx.model, optimizer, loader)
    if scheduler is not None:
        scheduler = ctx.accelerator.prepare(scheduler)
    checkpoints = Checkpointer(ctx, model, optimizer, scheduler, loader)  # resume=: restores their states
    losses, nonfinite_step = _fit(ctx, model, optimizer, scheduler, loader, checkpoints)
    ctx.state["trained_model"] = model
    ctx.state["train_losses"] = losses
    ctx.gate("loss_decreases", lambda s: loss_decreased(losses, s, nonfinite_step))


def _fit(ctx: RunContext, model, optimizer, scheduler, loader, checkpoints: Checkpointer
         ) -> tuple[torch.Tensor, Optional[int]]:
    """Train for the configured epochs/steps. Losses stay on the device and are read every
    `train.log_every` steps (one host sync each), where NaN/Inf stops the run early.
    A checkpoint every `checkpoint.every` steps, at the end, and on SIGINT/SIGTERM."""
    cfg, accelerator = ctx.cfg.train, ctx.accelerator
    total = len(loader) * int(cfg.epochs)
    if cfg.max_steps is not None:
        total = min(total, int(cfg.max_steps))
    losses = torch.zeros(total, device=accelerator.device)
    bar = tqdm(total=total, desc="train", unit="step", disable=not (ctx.cfg.output.progress and
               accelerator.is_main_process), mininterval=0.5, leave=False)
    step = checkpoints.restore(losses)  # 0, or the resumed checkpoint's step
    logged = step - step % int(cfg.log_every)
    bar.update(logged)
    model.train()
    try:
        while step < total:
            for inputs, targets in checkpoints.batches(loader, step):
                losses[step] = _step(ctx, model, optimizer, scheduler, inputs, targets)
                step += 1
                if step % int(cfg.log_every) == 0 or step == total:
                    bad = _log(ctx, losses[logged:step], logged, bar)
                    if bad is not None:
                        return losses[:step], bad
                    logged = step
                if step >= checkpoints.due:  # every checkpoint.every steps, or at once after SIGINT/SIGTERM
                    checkpoints.save(step, losses)
                if step == total:
                    break
        checkpoints.finish(step, losses)
    finally:
        bar.close()
        checkpoints.close()
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
