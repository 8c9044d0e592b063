"""Epoch 1 of `train` checks every training item as it reads it (gate `full_pass`).

Setup read every target and a random sample of the inputs; the batches of epoch 1 go by anyway, so
they are checked where they are collated (`checks.full_pass.BatchInspector`, in the loader's
workers when there are any). A batch that fails comes to the loop as a `Rejected`, and the run halts
before the optimizer step on it (the stage runs the verdict this hook returns). After epoch 1 the
inspection is switched off. In-memory tensors, checked whole in setup, are not inspected at all.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..checks.full_pass import GATE as FULL_PASS
from ..checks.full_pass import BatchInspector, checked_in_setup, rejected, went_by
from ..data.inspection import Rejected
from ..engine.distributed import earliest, summed
from ..engine.hooks import NEVER, Finding, Findings, TrainHook, found
from ..errors import InputError
from .context import Built, RunContext


class DataPass(TrainHook):
    """The train loop's side of `full_pass`: builds the loader, checks each batch of epoch 1 before its
    step (`on_batch_start`), judges the pass after epoch 1 or when training stops within it."""

    def __init__(self, ctx: RunContext, built: Built) -> None:
        self.ctx, self.built, summary = ctx, built, built.train_summary
        self.total, self.sampled = summary.length, summary.checked or 0
        enabled = ctx.settings.gates.full_pass.enabled
        self.active = bool(enabled and not summary.complete and FULL_PASS.name not in ctx.gates.passed_before)
        self.reads_until = NEVER if self.active else 0  # every batch of epoch 1
        # targets setup read without the items are compared with each item's own target
        stored = summary.targets if self.active and not summary.targets_from.startswith("the items") else None
        self.inspect = BatchInspector(stored) if self.active else None
        self.seen = self.batches = 0
        self.collate: Any = None

    def loader(self, dataset: Dataset) -> DataLoader:
        loader = self.built.loaders.train(dataset, self.inspect, self.ctx.accelerator.device)  # pinned on CUDA
        self.collate = loader.collate_fn
        return loader

    def on_fit_start(self, model: Any, step: int) -> Findings:
        """Nothing to read (checked whole in setup, passed before a resume, or turned off): say so now."""
        if self.active:
            return []
        how = "in-memory tensors, vectorised" if self.built.train_summary.targets_from == "tensors" else "read whole"
        return [found(FULL_PASS, checked_in_setup(self.total, how))]

    def on_batch_start(self, step: int, batch: Any) -> tuple[Any, Findings]:
        """Before the optimizer step on `batch` (`step` steps done): a verdict if its data were rejected
        here or on another process (a failure halts every process at this step). Returns the batch to
        train on: a waived rejection trains on the batch as it came."""
        if not self.active and type(batch) is not Rejected:  # another hook reads the batch
            return batch, []
        bad = isinstance(batch, Rejected)
        anywhere = bad
        if self.ctx.accelerator.num_processes > 1:  # every process stops at the same step
            anywhere = earliest(self.ctx.accelerator, step if bad else None) is not None
        findings: Findings = []
        if anywhere:
            verdict = (
                rejected(batch.indices, batch.problems, step, self.batches, self.sampled)
                if bad
                else went_by(self.seen, self.total, False, False)
            )
            self._off()  # waived (or another process's): the rest of the epoch goes unchecked
            if bad and batch.batch is None:  # waived, and nothing to train on
                error = InputError(f"train items {batch.indices[:8]}: {'; '.join(batch.problems)}")
                return batch, [Finding(FULL_PASS, lambda s: verdict, error)]
            findings.append(found(FULL_PASS, verdict))
            batch = batch.batch if bad else batch
        self.seen += len(batch)
        self.batches += 1
        return batch, findings

    def on_epoch_end(self, epoch: int, step: int) -> Findings:
        return self._done(True) if self.active else []

    def on_fit_end(self, model: Any, step: int, losses: torch.Tensor) -> Findings:
        return self._done(self._seen_everywhere() >= self.total) if self.active else []

    def _off(self) -> None:
        self.active, self.reads_until = False, 0
        if self.collate is not None:
            self.collate.inspect = None  # later epochs' workers collate without inspecting

    def _done(self, whole_epoch: bool) -> Findings:
        self._off()
        seen = self._seen_everywhere()
        return [found(FULL_PASS, went_by(seen, self.total, whole_epoch, self.ctx.resumed is not None))]

    def _seen_everywhere(self) -> int:
        return summed(self.ctx.accelerator, self.seen)
