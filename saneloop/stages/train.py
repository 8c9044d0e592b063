"""Stage `train`: the full run, on Accelerate, costing what a hand-written loop costs."""
from __future__ import annotations

import math
from typing import Any, Optional

import torch
from tqdm.auto import tqdm

from ..augment import augmented
from ..build import build_optimizer, build_scheduler, build_train_loader
from ..checkpoint import Checkpointer
from ..checks import loss_decreased
from ..context import RunContext
from ..distributed import earliest
from ..loop import to_device
from ..seeding import seed_everything
from ..watch import TrainWatch

NAME = "train"


def run(ctx: RunContext) -> None:
    # Reseed: the training stream must not depend on which gates ran before it. Each process gets
    # its own stream (dropout, augmentation in the dataset): seed + process index, as Accelerate's
    # set_seed(device_specific=True); the data order is shared and sharded by `prepare`.
    seed_everything(ctx.seed + ctx.accelerator.process_index, ctx.cfg.deterministic)
    optimizer = build_optimizer(ctx.cfg, list(ctx.model.parameters()))
    scheduler = build_scheduler(ctx.cfg, optimizer)
    loader = build_train_loader(ctx.cfg, augmented(ctx.cfg, ctx.train_set), ctx.seed)
    watch = TrainWatch(ctx, len(loader))  # tips 10 and 11: the first batch, a fixed test batch over time
    model, optimizer, scheduler, loader = _prepare(ctx, ctx.model, optimizer, scheduler, loader)
    checkpoints = Checkpointer(ctx, model, optimizer, scheduler, loader)  # resume=: restores their states
    losses, nonfinite_step = _fit(ctx, model, optimizer, scheduler, loader, watch, checkpoints)
    watch.finish(len(losses))
    ctx.state["trained_model"] = model
    ctx.state["train_losses"] = losses
    ctx.gate("loss_decreases", lambda s: loss_decreased(losses, s, nonfinite_step))


def needs_accelerate_wrappers(accelerator) -> bool:
    """Accelerate's wrappers earn their per-step cost only with several processes, mixed
    precision or gradient accumulation; on one process in full precision a bare loop is the same
    computation (same losses, bit for bit) for less overhead."""
    return (accelerator.num_processes > 1 or accelerator.mixed_precision != "no"
            or accelerator.gradient_accumulation_steps > 1)


def _prepare(ctx: RunContext, model, optimizer, scheduler, loader):
    accelerator = ctx.accelerator
    if not needs_accelerate_wrappers(accelerator):
        return model.to(accelerator.device), optimizer, scheduler, loader
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    if scheduler is not None:
        scheduler = accelerator.prepare(scheduler)
    return model, optimizer, scheduler, loader


def _fit(ctx: RunContext, model, optimizer, scheduler, loader, watch: TrainWatch, checkpoints: Checkpointer
         ) -> tuple[torch.Tensor, Optional[int]]:
    """Train for the configured epochs/steps. Losses stay on the device and are read every
    `train.log_every` steps (one host sync each), where NaN/Inf stops the run early.
    A checkpoint every `checkpoint.every` steps, at the end, and on SIGINT/SIGTERM."""
    cfg, accelerator = ctx.cfg.train, ctx.accelerator
    total = len(loader) * int(cfg.epochs)
    if cfg.max_steps is not None:
        total = min(total, int(cfg.max_steps))
    losses: list[torch.Tensor] = []  # device scalars; appending costs nothing, reading syncs
    step_fn = _accelerated_step if needs_accelerate_wrappers(accelerator) else _bare_step
    device = None if accelerator.device.type == "cpu" else accelerator.device
    bar = tqdm(total=total, desc="train", unit="step", disable=not (ctx.cfg.output.progress and
               accelerator.is_main_process), mininterval=0.5, leave=False)
    log_every, checkpoints.total = int(cfg.log_every), total
    step = checkpoints.restore(losses)  # 0, or the resumed checkpoint's step
    logged = step - step % log_every
    bar.update(logged)
    model.train()
    try:
        while step < total:
            for inputs, targets in checkpoints.batches(loader, step):
                if device is not None:
                    inputs, targets = to_device((inputs, targets), device)
                losses.append(step_fn(ctx, model, optimizer, scheduler, inputs, targets))
                step += 1
                watch.after_step(step, targets)
                if step % log_every == 0 or step == total:
                    bad = _log(ctx, torch.stack(losses[logged:step]), logged, bar)
                    bad = earliest(ctx.accelerator, bad)  # every process stops at the same step
                    if bad is not None:
                        return torch.stack(losses), bad
                    logged = step
                if step >= checkpoints.due:  # every checkpoint.every steps, or at once after SIGINT/SIGTERM
                    checkpoints.save(step, losses)
                if step == total:
                    break
        checkpoints.finish(step, losses)
    finally:
        bar.close()
        checkpoints.close()
    return torch.stack(losses) if losses else torch.zeros(0), None


def _bare_step(ctx: RunContext, model, optimizer, scheduler, inputs, targets) -> torch.Tensor:
    optimizer.zero_grad(set_to_none=True)
    loss = ctx.task.loss(model(inputs), targets)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.detach()


def _accelerated_step(ctx: RunContext, model, optimizer, scheduler, inputs, targets) -> torch.Tensor:
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
    """Log a chunk of step losses (one host sync); return the first non-finite step, if any."""
    mean = float(chunk.mean())
    if not math.isfinite(mean):
        return first_step + int((~torch.isfinite(chunk)).nonzero()[0])
    ctx.tracker.scalar("train/loss", mean, first_step + len(chunk))
    bar.update(len(chunk))
    bar.set_postfix(loss=f"{mean:.4f}", refresh=False)
    return None
