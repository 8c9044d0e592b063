"""Gate `replicas`: with several processes, every process holds the same parameters, bit for bit,
after the first steps and at every checkpoint.

Data-parallel replicas drift apart when something updates parameters outside the all-reduced
gradients: a rank-dependent learning rate or clipping, an update skipped on one rank, a buffer
or parameter written from rank-local data. The loss looks fine; the checkpoint (rank 0's) is not
the model the other ranks trained. The BLOOM-176B clipping bug ran 10+ days unseen; Megatron
checks `check_param_hashes_across_dp_replicas`. Each parameter's bits are hashed exactly (an
integer sum, so order-free), gathered, and compared.

Sharded by saneloop (`accelerator.fsdp`, FSDP2): `fully_shard` keeps each process's own slice of its own
copy and broadcasts nothing (DDP broadcasts process 0's at wrapping), so models that differ (a seed
that depends on the rank) would be stitched together unseen. The whole models are compared before
sharding (`before_sharding`); after it, the sharded parameters (DTensors, a different slice on each
process by design) are left out and the tensors left replicated are compared. Sharded by Accelerate
itself (DeepSpeed and the like, refused at launch): the gate is skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn
from torch.distributed.tensor import DTensor

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped

TIP = "data-parallel replicas must stay identical"
_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


@dataclass
class ReplicasSettings(GateSettings):
    first_steps: int = bounded(2, low=1)  # compared after each of the first steps, then at every checkpoint


def parameter_hashes(model: nn.Module) -> tuple[list[str], torch.Tensor]:
    """Names and one exact int64 hash per parameter (its bits, weighted by position, summed with wrap-around)."""
    names, hashes = [], []
    for name, p in model.named_parameters():
        if isinstance(p, DTensor):  # sharded: each process holds its own slice
            continue
        bits = p.detach().contiguous().reshape(-1).view(_INT[p.element_size()]).long()
        weights = torch.arange(1, len(bits) + 1, device=bits.device, dtype=torch.long) * 2654435761 + 1
        names.append(name)
        hashes.append((bits * weights).sum())
    return names, torch.stack(hashes) if hashes else torch.zeros(0, dtype=torch.long)


def judge(names: list[str], gathered: torch.Tensor, step: int, checks: int) -> Verdict:
    """`gathered` [processes, parameters]: each process's hashes. Every row must equal process 0's."""
    differ = (gathered != gathered[:1]).any(0).nonzero().flatten().tolist()
    if not differ:
        return passed(
            GATE,
            0,
            0,
            f"all {gathered.shape[0]} processes hold identical parameters ({len(names)} tensors, {checks} "
            f"comparisons, the last at step {step})",
            TIP,
        )
    ranks = sorted({r for j in differ for r in (gathered[:, j] != gathered[0, j]).nonzero().flatten().tolist()})
    shown = ", ".join(names[j] for j in differ[:6]) + (f" (+{len(differ) - 6} more)" if len(differ) > 6 else "")
    return failed(
        GATE,
        len(differ),
        0,
        f"at step {step}, {len(differ)} of {len(names)} parameter tensors differ between process 0 and "
        f"process(es) {ranks}: {shown}. The replicas have drifted apart; every process trains its own model "
        "and the checkpoint is only process 0's. Likely causes: an update that depends on the rank (a "
        "learning rate, clipping or a skipped step on one process), parameters or buffers written from "
        "rank-local data outside the gradients, a model built differently per process (a rank-dependent "
        "seed before the model is wrapped), a parameter the data-parallel wrapper does not synchronise.",
        TIP,
    )


@dataclass
class ReplicaWatch:
    """Compares the replicas after each of the first steps, at every checkpoint step and at the end
    (`finish`); returns each comparison's verdict and runs no gate (the train stage halts on the first
    difference)."""

    model: nn.Module
    gather: Callable[[torch.Tensor], torch.Tensor]  # all-gather of a 1-D tensor, processes side by side
    processes: int
    first_steps: int
    every: int  # checkpoint.every (0: none between)
    start: int = 0  # the step training started (or went on) at
    checks: int = 0
    last: tuple[int, Any] = field(default=(0, None))
    sharded: str = ""  # what was compared before sharding (FSDP), said in every later verdict

    def next_step(self, step: int) -> int:
        """The first step after `step` to compare at: each of the first steps, then every checkpoint step."""
        if step < self.start + self.first_steps:
            return step + 1
        return step + self.every - step % self.every if self.every else sys.maxsize

    def compare(self, step: int) -> Verdict:
        """Every process's parameter hashes after `step` steps, gathered and judged (every process calls it)."""
        names, hashes = parameter_hashes(self.model)
        if not names and self.sharded:  # every parameter sharded: nothing replicated left to compare
            return self.last[1]
        gathered = self.gather(hashes).reshape(self.processes, -1).cpu()
        self.checks += 1
        verdict = judge(names, gathered, step, self.checks)
        if self.sharded and verdict.passed:
            verdict = replace(verdict, message=f"{verdict.message}; {self.sharded}")
        self.last = (step, verdict)
        return verdict

    def before_sharding(self) -> Verdict:
        """The whole models, compared before FSDP shards them: each process keeps its own copy's slice."""
        verdict = self.compare(0)
        if verdict.passed:
            count = len(parameter_hashes(self.model)[0])
            self.sharded = f"before FSDP sharded them, all {count} parameter tensors were identical"
            self.last = (0, replace(verdict, message=f"all {self.processes} processes: {self.sharded}"))
        return self.last[1]

    def finish(self, step: int) -> Verdict:
        if self.processes <= 1:
            return skipped(GATE, "one process: no replicas to compare", TIP)
        if self.last[0] != step:
            self.compare(step)
        return self.last[1]


GATE = Gate(
    name="replicas",
    stage="train",
    settings=ReplicasSettings,
    tip=TIP,
    what="with several processes, parameter hashes agree on every rank after the first steps and at checkpoints",
    event="the first steps and every checkpoint",
    applies=("processes",),
)
