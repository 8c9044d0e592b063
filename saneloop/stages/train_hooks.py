"""The train stage's side of the hook protocol (`engine.hooks`): it calls the hooks by event, in the order
given, and runs each `Finding` they return as a gate, so the stage decides: a failure halts the run, a
waived one goes on. The loop reads `reads_until` and `due` to know when a batch or a step concerns a hook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..checks.base.gate import Gate
from ..checks.base.verdict import Verdict
from ..engine.hooks import NEVER, Findings, TrainHook

GateRun = Callable[[Gate, Callable[[Any], Verdict]], Verdict]  # the run's gate runner (`ctx.gates`)


class TrainHooks:
    def __init__(self, hooks: Sequence[TrainHook], gates: GateRun) -> None:
        names = [hook.name for hook in hooks if hook.name]
        if len(names) != len(set(names)):
            raise ValueError(f"train hooks save their state by name; these names repeat: {names}")
        self.hooks, self.gates = tuple(hooks), gates
        # only the hooks that listen to the per-batch events are called there
        self.batch_hooks = [h for h in hooks if type(h).on_batch_start is not TrainHook.on_batch_start]
        self.step_hooks = [h for h in hooks if type(h).on_step_end is not TrainHook.on_step_end]
        self.reads_until, self.due = 0, NEVER
        self._refresh()

    def fit_start(self, model: torch.nn.Module, step: int) -> None:
        for hook in self.hooks:
            self._judge(hook.on_fit_start(model, step))
        self._refresh()

    def epoch_start(self, epoch: int, step: int) -> None:
        for hook in self.hooks:
            self._judge(hook.on_epoch_start(epoch, step))
        self._refresh()

    def batch_start(self, step: int, batch: Any) -> Any:
        """Before the step on `batch`; returns the batch to train on."""
        for hook in self.batch_hooks:
            batch, findings = hook.on_batch_start(step, batch)
            self._judge(findings)
        self._refresh()
        return batch

    def step_end(self, model: torch.nn.Module, step: int, batch: Any) -> None:
        for hook in self.step_hooks:
            self._judge(hook.on_step_end(model, step, batch))
        self._refresh()

    def epoch_end(self, epoch: int, step: int) -> None:
        for hook in self.hooks:
            self._judge(hook.on_epoch_end(epoch, step))
        self._refresh()

    def fit_end(self, model: torch.nn.Module, step: int, losses: torch.Tensor) -> None:
        for hook in self.hooks:
            self._judge(hook.on_fit_end(model, step, losses))
        self.reads_until, self.due = 0, NEVER

    def _judge(self, findings: Findings) -> None:
        """Each finding as a gate, in order: recorded, agreed across processes, halting on a failure."""
        for finding in findings:
            self.gates(finding.gate, finding.verdict)
            if finding.error is not None:
                raise finding.error

    def _refresh(self) -> None:
        self.reads_until = max((hook.reads_until for hook in self.hooks), default=0)
        self.due = min((hook.due for hook in self.hooks), default=NEVER)
