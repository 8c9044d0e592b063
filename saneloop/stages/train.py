"""Stage `train`: the full run, on Accelerate, costing what a hand-written loop costs."""

from __future__ import annotations

import copy
import math
from typing import Any, Optional

import torch
from tqdm.auto import tqdm

from ..checks import loss_decreased
from ..checks.loss_decreases import GATE as LOSS_DECREASES
from ..checks.loss_decreases import needs_more, score_examples
from ..checks.measure.curves import learning_rate
from ..checks.measure.paired import HeldOut
from ..checks.measure.per_example import per_example_of
from ..data.inspection import Rejected
from ..data.seeding import seed_everything
from ..engine import sharding
from ..engine.checkpoint import Checkpointer, CheckpointPlan
from ..engine.distributed import earliest
from ..engine.loop import accelerated_step, bare_step, compiled, needs_accelerate_wrappers
from .context import Built, RunContext, Trained
from .train_curve import LossCurve
from .train_data import DataPass
from .train_figures import TrainFigures
from .train_guards import ReplicaGuard, ScaleGuard, guards
from .train_hooks import TrainHooks

NAME = "train"


def run(ctx: RunContext, built: Built) -> Trained:
    # Reseed: the training stream must not depend on which gates ran before it. Each process gets
    # its own stream (dropout, augmentation in the dataset): seed + process index, as Accelerate's
    # set_seed(device_specific=True); the data order is shared and sharded by `prepare`.
    seed_everything(ctx.seed + ctx.accelerator.process_index, ctx.settings.deterministic)
    start = copy.deepcopy(built.model) if ctx.settings.gates.loss_decreases.enabled else None  # as it starts
    replicas = ReplicaGuard(ctx, built.model)  # sharded (FSDP): the whole models compared now, before sharding
    shell = _shard(ctx, built.model)  # FSDP: in place, before the optimizer takes the (sharded) parameters
    optimizer = ctx.builders.optimizer(list(built.model.parameters()))
    scheduler = ctx.builders.scheduler(optimizer)
    data = DataPass(ctx, built)  # epoch 1 checks every training item (gate full_pass)
    loader = data.loader(ctx.builders.augmented(built.train_set))
    model, optimizer, scheduler, loader = _prepare(ctx, built.model, optimizer, scheduler, loader)
    total = _total_steps(ctx, len(loader), built.loaders.train_batch_size)
    figures = TrainFigures(ctx.record, built, ctx.device, ctx.settings.train, total, ctx.outputs, shell is None)
    curve = LossCurve(ctx.record, built, ctx.accelerator, ctx.settings.train, total, ctx.outputs)
    # The checkpoints (and every probe) use `model`; the steps run `stepped`, which shares its
    # parameters (compiled when train.compile): state dict keys never carry `_orig_mod.`.
    stepped = _compiled(ctx, model) if ctx.settings.train.compile else model
    scale = ScaleGuard(ctx, optimizer)  # fp16: the steps the gradient scaler skipped are no steps taken
    # train_mode, data/resume order, replicas watch what the steps call
    hooks = TrainHooks([data, figures, curve, *guards(ctx, built, stepped, loader, replicas, scale)], ctx.gates)
    checkpoints = Checkpointer(_plan(ctx), ctx.accelerator, model, optimizer, scheduler, loader, hooks.hooks)
    losses, nonfinite_step = _fit(ctx, built, (stepped, optimizer, scheduler, loader), hooks, checkpoints, total)
    lr = learning_rate(optimizer)
    trained = ctx.accelerator.unwrap_model(model)
    if shell is not None:  # from here on, what runs on one process or reads the weights uses the full weights
        built.model = trained = sharding.gathered(model, shell)
    taken = scale.taken(losses)
    ctx.gates(LOSS_DECREASES, lambda s: _loss_decreased(ctx, built, start, trained, taken, nonfinite_step, lr, s))
    return Trained(stepped, losses, model if shell is None else trained)


def _shard(ctx: RunContext, model: torch.nn.Module) -> Optional[torch.nn.Module]:
    """FSDP with several processes: `model` sharded in place; returned, an unsharded copy to gather into."""
    if not sharding.active(ctx.settings.accelerator.fsdp, ctx.accelerator):
        if ctx.settings.accelerator.fsdp.enabled:
            ctx.record.note("accelerator.fsdp.enabled=true on one process: nothing to shard across; trained whole")
        return None
    shell = copy.deepcopy(model)
    units = sharding.shard(model, ctx.accelerator, ctx.settings.accelerator.fsdp)
    ctx.record.note(sharding.note(units, ctx.accelerator.num_processes))
    return shell


def _compiled(ctx: RunContext, model):
    ctx.record.note("train and evaluate run the model compiled (train.compile); the gates and probes run it eagerly")
    return compiled(model, ctx.settings.deterministic)


def _loss_decreased(ctx: RunContext, built: Built, start, trained, losses, nonfinite_step, lr, settings):
    """Fixed training examples scored by the model as it started and as it ended (more of them while the
    fall is positive but not yet clear), then judged with the step losses."""
    if start is None or nonfinite_step is not None:
        return loss_decreased(losses, settings, nonfinite_step, lr)
    held, per_example = HeldOut(built.loaders.probe(), ctx.device), per_example_of(built.task)
    before = after = None
    while held.grow(settings.examples if before is None else 2 * held.count):
        before = score_examples(start, held.batches, built.task.loss, per_example, outputs=ctx.outputs)
        after = score_examples(trained, held.batches, built.task.loss, per_example, outputs=ctx.outputs)
        if not needs_more(before, after, settings):
            break
    return loss_decreased(losses, settings, nonfinite_step, lr, before, after)


def _total_steps(ctx: RunContext, steps_per_epoch: int, batch_size: int) -> int:
    """`train.epochs` passes over the training set (or `train.max_steps`), in steps of the loader the loop
    iterates: with N processes Accelerate shards it, a batch of `loader.train.batch_size` on each process per
    step, so an epoch takes about 1/N of one process's steps (the report says so)."""
    train, processes = ctx.settings.train, ctx.accelerator.num_processes
    total = steps_per_epoch * int(train.epochs)
    capped = min(total, int(train.max_steps)) if train.max_steps is not None else total
    if processes > 1:
        ctx.record.note(
            f"train: an epoch is {steps_per_epoch} steps, each a batch of {batch_size} on every one of the "
            f"{processes} processes <loader.train.batch_size is per process>; train.epochs={train.epochs} is "
            f"{total} steps" + (f", cut to {capped} <train.max_steps>" if capped < total else "")
        )
    return capped


def _plan(ctx: RunContext) -> CheckpointPlan:
    return CheckpointPlan(
        ctx.run_dir,
        ctx.settings.checkpoint.every,
        ctx.settings.checkpoint.keep,
        ctx.settings.config_yaml,
        lambda: ctx.record.report.stages,
        ctx.builders.model_target,
        ctx.resumed,
    )


def _prepare(ctx: RunContext, model, optimizer, scheduler, loader):
    accelerator = ctx.accelerator
    if not needs_accelerate_wrappers(accelerator):
        return model.to(accelerator.device), optimizer, scheduler, loader
    if sharding.is_sharded(model):  # FSDP: no wrapper around the model (Accelerate would add DDP's)
        optimizer, loader = accelerator.prepare(optimizer, loader)
    else:
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    if scheduler is not None:
        scheduler = accelerator.prepare(scheduler)
    return model, optimizer, scheduler, loader


def _fit(
    ctx: RunContext, built: Built, parts: tuple, hooks: TrainHooks, checkpoints: Checkpointer, total: int
) -> tuple[torch.Tensor, Optional[int]]:
    """Train for the configured epochs/steps, calling the hooks by event (between the steps they asked for,
    an integer test per step). Losses stay on the device and are read every `train.log_every` steps (one
    host sync each), where NaN/Inf stops the run early. A checkpoint every `checkpoint.every` steps, at
    the end, and on SIGINT/SIGTERM."""
    model, optimizer, scheduler, loader = parts
    accelerator, loss_fn, outputs = ctx.accelerator, built.task.loss, ctx.outputs
    losses: list[torch.Tensor] = []  # device scalars; appending costs nothing, reading syncs
    step_fn = accelerated_step if needs_accelerate_wrappers(accelerator) else bare_step
    device = None if accelerator.device.type == "cpu" else accelerator.device
    log_every, checkpoints.total = int(ctx.settings.train.log_every), total
    step = checkpoints.restore(losses)  # 0, or the resumed checkpoint's step (and the hooks' states)
    logged, bad = step - step % log_every, None
    bar = _bar(ctx, total, logged)
    model.train()
    hooks.fit_start(model, step)
    try:
        while step < total and bad is None:
            batches = checkpoints.batches(loader, step)
            hooks.epoch_start(checkpoints.epoch, step)
            for batch in batches:
                if step < hooks.reads_until or type(batch) is Rejected:
                    batch = hooks.batch_start(step, batch)  # a batch whose data fail halts before its step
                if device is not None:
                    batch = batch.to(device, non_blocking=True)
                losses.append(step_fn(model, optimizer, scheduler, loss_fn, batch, accelerator, outputs))
                step += 1
                if step >= hooks.due:
                    hooks.step_end(model, step, batch)
                if step % log_every == 0 or step == total:
                    bad = earliest(accelerator, _log(ctx, torch.stack(losses[logged:step]), logged, bar))
                    if bad is not None:  # every process stops at the same step
                        break
                    logged = step
                if step >= checkpoints.due:  # every checkpoint.every steps, or at once after SIGINT/SIGTERM
                    checkpoints.save(step, losses)
                if step == total:
                    break
            else:
                hooks.epoch_end(checkpoints.epoch, step)
        if bad is None:
            checkpoints.finish(step, losses)
    finally:
        bar.close()
        checkpoints.close()
    stacked = torch.stack(losses) if losses else torch.zeros(0)
    hooks.fit_end(model, len(losses), stacked)
    return stacked, bad


def _bar(ctx: RunContext, total: int, done: int) -> Any:
    """The progress bar, `done` steps in: redrawn at most twice a second (main process, `output.progress`)."""
    shown = ctx.settings.output.progress and ctx.accelerator.is_main_process
    bar = tqdm(total=total, desc="train", unit="step", disable=not shown, mininterval=0.5, leave=False)
    bar.update(done)
    return bar


def _log(ctx: RunContext, chunk: torch.Tensor, first_step: int, bar: Any) -> Optional[int]:
    """Log a chunk of step losses (one host sync); return the first non-finite step, if any."""
    mean = float(chunk.mean())
    if not math.isfinite(mean):
        return first_step + int((~torch.isfinite(chunk)).nonzero()[0])
    ctx.record.scalar("train/loss", mean, first_step + len(chunk))
    bar.update(len(chunk))
    bar.set_postfix(loss=f"{mean:.4f}", refresh=False)
    return None
