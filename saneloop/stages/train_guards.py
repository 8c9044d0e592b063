"""The train stage's guards of the second wave, as train hooks: `train_mode` (every module in training
mode in every step), `data_order` / `resume_order` (a new order every epoch, the same order after a
resume), `replicas` (identical parameters on every process), `loss_scale` (fp16's gradient scaler does not
collapse). Each returns its verdicts to the stage and costs the loop nothing between the steps it asked for
(train_mode: a forward pre-hook; loss_scale: a flag the scaler has already synced for, every step)."""

from __future__ import annotations

from typing import Any, Optional

import torch

from ..checks.base.verdict import Verdict, skipped
from ..checks.data_order import DATA_ORDER, RESUME_ORDER, OrderWatch, fingerprint, shuffled
from ..checks.loss_scale import GATE as LOSS_SCALE
from ..checks.loss_scale import ScaleWatch, no_scaler
from ..checks.modes import TRAIN_MODE, ModeWatch
from ..checks.replicas import GATE as REPLICAS
from ..checks.replicas import ReplicaWatch
from ..engine.hooks import NEVER, Finding, Findings, TrainHook, found
from .context import Built, RunContext

SHARDED = ("FSDP", "DEEPSPEED", "MEGATRON_LM", "XLA")  # parameters differ per process by design


def guards(
    ctx: RunContext, built: Built, model: Any, loader: Any, replicas: ReplicaGuard, scale: ScaleGuard
) -> list[TrainHook]:
    """The guards of `model` (what the steps call: a compiled wrapper runs its own hooks in Python; hooks
    inside a compiled region may be ignored, pytorch #117758) trained on `loader`, in report order; `replicas`
    is made before the model is prepared (and, with FSDP, sharded); `scale` reads the prepared optimizer."""
    return [ModeGuard(model), OrderGuard(ctx, built, loader), replicas, scale]


class ModeGuard(TrainHook):
    """`train_mode`: every module in training mode in every training forward, judged at the end of the fit."""

    def __init__(self, model: Any) -> None:
        self.watch = ModeWatch(model, True, TRAIN_MODE.name)

    def on_fit_start(self, model: Any, step: int) -> Findings:
        self.watch.start()
        return []

    def on_fit_end(self, model: Any, step: int, losses: torch.Tensor) -> Findings:
        self.watch.stop()
        return [Finding(TRAIN_MODE, lambda s: self.watch.verdict())]


class OrderGuard(TrainHook):
    """`data_order` and `resume_order`: fingerprints the first batches of every epoch, before their steps."""

    name = "order"  # its state in a checkpoint: the first batches' fingerprints of every epoch begun

    def __init__(self, ctx: RunContext, built: Built, loader: Any) -> None:
        settings, resumed = ctx.settings.gates, ctx.resumed
        at = (int(resumed.payload["epoch"]), int(resumed.payload["batch_in_epoch"])) if resumed else None
        self.watch = OrderWatch(
            settings.data_order.batches,
            settings.resume_order.batches,
            shuffled(loader),
            lambda e, o, c: _uninterrupted(ctx, built, e, o, c),
            resumed=at,
        )
        self.first = 0  # the step batch 0 of the current epoch was (or would have been) drawn before
        self.verdicts = {
            DATA_ORDER: lambda s: self.watch.order_verdict(),
            RESUME_ORDER: lambda s: self.watch.resume_verdict(),
        }

    def on_epoch_start(self, epoch: int, step: int) -> Findings:
        offset = self.watch.begin(epoch)
        self.first = step - offset
        again = step + self.watch.again if self.watch.resuming else 0
        self.reads_until = max(self.first + self.watch.want, again)
        return []

    def on_batch_start(self, step: int, batch: Any) -> tuple[Any, Findings]:
        if step >= self.reads_until:
            return batch, []
        ready = self.watch.see(step - self.first, batch)
        return batch, [Finding(gate, self.verdicts[gate]) for gate in ready]

    def on_fit_end(self, model: Any, step: int, losses: torch.Tensor) -> Findings:
        findings = []
        if not self.watch.judged:  # one epoch, or no shuffling: nothing to compare
            findings.append(Finding(DATA_ORDER, lambda s: self.watch.unjudged()))
        if not self.watch.resume_judged:  # not resumed, or stopped before the batches to compare
            findings.append(Finding(RESUME_ORDER, lambda s: self.watch.resume_unjudged()))
        return findings

    def state_dict(self) -> dict[str, Any]:
        return self.watch.state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.watch.restore(state)


class ReplicaGuard(TrainHook):
    """`replicas`: with several processes, exact parameter hashes compared after the first steps and at every
    checkpoint step, halting at the first difference. Made before `train` prepares the model: with FSDP
    (`accelerator.fsdp`), which shards each process's own copy and synchronises nothing, the whole models
    are compared there, before sharding; after it, the tensors left replicated (not sharded)."""

    def __init__(self, ctx: RunContext, model: Any) -> None:
        self.ctx, acc, s = ctx, ctx.accelerator, ctx.settings
        self.watch: Optional[ReplicaWatch] = None
        if acc.num_processes > 1 and acc.distributed_type.name not in SHARDED:
            self.watch = ReplicaWatch(
                model, acc.gather, acc.num_processes, s.gates.replicas.first_steps, s.checkpoint.every
            )
            if s.accelerator.fsdp.enabled:
                self.watch.before_sharding()

    def on_fit_start(self, model: Any, step: int) -> Findings:
        if self.watch is not None:
            self.watch.start = step
            self.due = self.watch.next_step(step)
            if self.watch.last[1] is not None and not self.watch.last[1].passed:  # differed before sharding
                return [found(REPLICAS, self.watch.last[1])]
        return []

    def on_step_end(self, model: Any, step: int, batch: Any) -> Findings:
        if self.watch is None or step < self.due:
            return []
        verdict = self.watch.compare(step)  # every process compares at the same steps (a gather)
        self.due = self.watch.next_step(step)
        return [] if verdict.passed else [found(REPLICAS, verdict)]

    def on_fit_end(self, model: Any, step: int, losses: torch.Tensor) -> Findings:
        self.due = NEVER
        watch = self.watch
        return [Finding(REPLICAS, lambda s: watch.finish(step) if watch else _one(self.ctx))]


class ScaleGuard(TrainHook):
    """`loss_scale`: under fp16 with a gradient scaler (Accelerate makes one for `mixed_precision=fp16` on
    CUDA), after every optimizer step whether the scaler skipped it (the prepared optimizer's
    `step_was_skipped`: the scaler synced to decide it, so reading it costs no extra sync). The skipped steps
    are kept (`taken` leaves their losses out of what the gates read as steps taken); a scale that
    collapses halts at once. The skipped count and the final scale go in report.json's `train`."""

    name = "loss_scale"  # its state in a checkpoint: the steps skipped so far

    def __init__(self, ctx: RunContext, optimizer: Any) -> None:
        self.ctx, self.optimizer, self.settings = ctx, optimizer, ctx.settings.gates.loss_scale
        self.scaler = getattr(ctx.accelerator, "scaler", None)
        self.watch, self.synced, self.judged = ScaleWatch(), 0, False

    def on_fit_start(self, model: Any, step: int) -> Findings:
        self.synced = step
        self.due = step + 1 if self.scaler is not None and self.settings.enabled else NEVER
        return []

    def on_step_end(self, model: Any, step: int, batch: Any) -> Findings:
        if step < self.due:
            return []
        self.due = step + 1
        if not self.ctx.accelerator.sync_gradients:  # accumulating micro-batches: no optimizer step yet
            return []
        if getattr(self.optimizer, "step_was_skipped", False):
            self.watch.skip(list(range(self.synced + 1, step + 1)), float(self.scaler.get_scale()))
        else:
            self.watch.took(step)
        self.synced = step
        if not self.watch.collapsed(self.settings):
            return []
        self.due, self.judged = NEVER, True
        return [found(LOSS_SCALE, self.watch.verdict(self.settings))]

    def on_fit_end(self, model: Any, step: int, losses: torch.Tensor) -> Findings:
        self.due = NEVER
        if self.scaler is None:
            return [Finding(LOSS_SCALE, lambda s: no_scaler(self.ctx.accelerator.mixed_precision))]
        self.watch.scale, self.watch.steps = float(self.scaler.get_scale()), step
        skipped = len(self.watch.skipped)
        self.ctx.record.report.train.update(skipped_steps=skipped, loss_scale=self.watch.scale)
        self.ctx.record.note(
            f"train: the fp16 gradient scaler skipped {skipped} of {step} steps (gradients overflowed; their "
            f"losses are not counted as steps taken); loss scale at the end {self.watch.scale:g}"
        )
        return [] if self.judged else [Finding(LOSS_SCALE, self.watch.verdict)]

    def taken(self, losses: torch.Tensor) -> torch.Tensor:
        """The losses of the steps the optimizer took (a skipped step changed nothing)."""
        gone = [s - 1 for s in self.watch.skipped if s <= len(losses)]
        if not gone:
            return losses
        keep = torch.ones(len(losses), dtype=torch.bool)
        keep[gone] = False
        return losses[keep.to(losses.device)]

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": list(self.watch.skipped), "in_row": self.watch.in_row}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.watch.skipped, self.watch.in_row = list(state.get("skipped", [])), int(state.get("in_row", 0))


def _uninterrupted(ctx: RunContext, built: Built, epoch: int, offset: int, count: int) -> Optional[list[int]]:
    if ctx.accelerator.num_processes > 1:
        return None
    order = built.loaders.uninterrupted_order(epoch, offset, count)
    return [fingerprint(built.loaders.items(built.train_set, idx)) for idx in order]


def _one(ctx: RunContext) -> Verdict:
    acc = ctx.accelerator
    why = "one process" if acc.num_processes <= 1 else f"{acc.distributed_type.value}: parameters are sharded"
    return skipped(REPLICAS, f"{why}: no replicas to compare")
