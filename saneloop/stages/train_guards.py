"""The train stage's watchers of the second wave, kept out of its loop: `train_mode` (every module in
training mode in every step), `data_order` / `resume_order` (a new order every epoch, the same order
after a resume), `replicas` (identical parameters on every process). Each costs a few integer tests
per step; the loop only routes its epochs through `epoch()`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Optional

from ..checks.data_order import DATA_ORDER, OrderWatch, fingerprint
from ..checks.modes import TRAIN_MODE, ModeWatch
from ..checks.replicas import GATE as REPLICAS
from ..checks.replicas import ReplicaWatch
from ..data.batch import Batch
from ..engine.checkpoint import Checkpointer
from .context import Prepared, RunContext

SHARDED = ("FSDP", "DEEPSPEED", "MEGATRON_LM", "XLA")  # parameters differ per process by design


class TrainGuards:
    def __init__(self, ctx: RunContext, prep: Prepared, model: Any, loader: Any, checkpoints: Checkpointer) -> None:
        self.ctx, self.checkpoints = ctx, checkpoints
        self.modes = ModeWatch(model, True, "train_mode").__enter__()
        self.order = OrderWatch(
            ctx.gates, ctx.settings.gates, loader, lambda e, o, c: self._uninterrupted(prep, e, o, c)
        )
        if ctx.resumed is not None:
            payload = ctx.resumed.payload
            self.order.restore(payload, int(payload["epoch"]), int(payload["batch_in_epoch"]))
        checkpoints.extra = lambda: {"order": self.order.state()}
        self.replicas = self._replicas(model)

    def epoch(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        return self.order.epoch(batches, self.checkpoints.epoch)

    def finish(self, steps: int) -> None:
        self.modes.__exit__()
        if self.replicas is not None:
            self.replicas[1].remove()
        self.ctx.gates(TRAIN_MODE, lambda s: self.modes.verdict())
        if not self.order.judged:  # one epoch, or no shuffling: nothing to compare
            self.ctx.gates(DATA_ORDER, lambda s: self.order.unjudged())
        watch = self.replicas[0] if self.replicas is not None else None
        self.ctx.gates(REPLICAS, lambda s: watch.finish(steps) if watch else _one(self.ctx))

    def _replicas(self, model: Any) -> Optional[tuple[ReplicaWatch, Any]]:
        acc = self.ctx.accelerator
        if acc.num_processes <= 1 or acc.distributed_type.name in SHARDED:
            return None
        s = self.ctx.settings
        watch = ReplicaWatch(
            model, acc.gather, acc.num_processes, self.ctx.gates, s.gates.replicas.first_steps, s.checkpoint.every
        )
        return watch, model.register_forward_pre_hook(watch.pre_forward)

    def _uninterrupted(self, prep: Prepared, epoch: int, offset: int, count: int) -> Optional[list[int]]:
        if self.ctx.accelerator.num_processes > 1:
            return None
        order = prep.loaders.uninterrupted_order(epoch, offset, count)
        return [fingerprint(prep.loaders.items(prep.train_set, idx)) for idx in order]


def _one(ctx: RunContext):
    from ..checks.verdict import skipped

    acc = ctx.accelerator
    why = "one process" if acc.num_processes <= 1 else f"{acc.distributed_type.value}: parameters are sharded"
    return skipped("replicas", f"{why}: no replicas to compare")
