"""The train loop's one hook protocol, in the spirit of Lightning's `Callback` and Composer's events.

A hook watches the train loop at a few events: the fit's start and end, each epoch's start and end,
each batch before its step (where a bad batch halts before the optimizer step on it), each step's end.
Events that judge something return `Finding`s (a gate's declaration and how to make its verdict); the
train stage runs each through its gate runner, and so decides: a hook never runs a gate, logs a verdict
or halts. A hook holds its own state; `state_dict()` is saved in every checkpoint under the hook's
`name` and handed back to `load_state_dict()` on resume.

The loop pays one integer test per step for all hooks together: it calls `on_batch_start` while
`step < reads_until` (or for a batch the loader rejected), `on_step_end` once `step >= due`. Each hook
keeps its own `reads_until` and `due` (read again after each of its events) and tests its own steps
when called, since it is also called at the steps other hooks asked for.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch

from ..checks.base.gate import Gate
from ..checks.base.verdict import Verdict

NEVER = sys.maxsize  # a step the loop never reaches


@dataclass(frozen=True)
class Finding:
    """What a hook found about one gate, for the stage to run: `ctx.gates(gate, verdict)`.

    `verdict(settings)` makes the verdict; the runner calls it only when the gate runs (not turned off,
    not passed before a resume), so a costly one (resume_order draws the uninterrupted order) costs
    nothing otherwise. `error`: raised once the gate has run without halting (a waived rejection of a
    batch that cannot be trained on)."""

    gate: Gate
    verdict: Callable[[Any], Verdict]
    error: Optional[Exception] = None


def found(gate: Gate, verdict: Verdict) -> Finding:
    """A finding whose verdict is already made."""
    return Finding(gate, lambda settings: verdict)


Findings = list[Finding]


class TrainHook:
    """One watcher of the train loop; every event is a no-op unless overridden. `step` is the number of
    optimizer steps taken so far (after a resume, counted from the start of the run)."""

    name = ""  # the key its state is saved under in a checkpoint (a stateful hook names itself)
    reads_until = 0  # on_batch_start is called for the batches before this step
    due = NEVER  # on_step_end is called once this step is reached

    def on_fit_start(self, model: torch.nn.Module, step: int) -> Findings:
        """Before the first step (after a resume's state is loaded); `model` is what the steps run."""
        return []

    def on_epoch_start(self, epoch: int, step: int) -> Findings:
        """Before the epoch's first batch is drawn (after a resume: the rest of the interrupted epoch)."""
        return []

    def on_batch_start(self, step: int, batch: Any) -> tuple[Any, Findings]:
        """Before the step on `batch`: returns the batch to train on (a `Rejected` one unwrapped)."""
        return batch, []

    def on_step_end(self, model: torch.nn.Module, step: int, batch: Any) -> Findings:
        """After optimizer step `step` (1-based), on the batch it trained on."""
        return []

    def on_epoch_end(self, epoch: int, step: int) -> Findings:
        """After the epoch's last batch (not when training stops within it)."""
        return []

    def on_fit_end(self, model: torch.nn.Module, step: int, losses: torch.Tensor) -> Findings:
        """After the last step (`losses`: every step's loss), also when a non-finite loss stopped it early."""
        return []

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs of this hook (plain lists, numbers, tensors: checkpoints load weights only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` saved (called before `on_fit_start` of a resumed run)."""


def next_after(steps: list[int], step: int) -> int:
    """The first of the sorted `steps` after `step` (NEVER when none is left): a hook's next `due`."""
    at = bisect_right(steps, step)
    return steps[at] if at < len(steps) else NEVER


def hook_states(payload: dict[str, Any], hooks: list[TrainHook]) -> dict[str, dict[str, Any]]:
    """Each named hook's saved state in a checkpoint. Checkpoints written before the hooks kept a hook's
    state at the top level under its name (the data order's fingerprints under `order`)."""
    if "hooks" in payload:
        return dict(payload["hooks"])
    return {hook.name: payload[hook.name] for hook in hooks if hook.name and isinstance(payload.get(hook.name), dict)}
