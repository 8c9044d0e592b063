"""The loss of each example of a batch, always in agreement with the loss the run trains with: the one
place a per-example loss is taken (the statistical gates, the test-loss curve of the train stage).

A statistical gate compares two models example by example (a paired difference and its standard
error), so it needs one loss per example. A task may give `per_example_loss(output, target)`
(vectorised); it is used only while its mean agrees with `loss(output, target)` on the same batch,
because a user's task (or a planted bug) may override `loss` alone. Otherwise each example's loss
is the task's own `loss` on that example by itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Optional

import torch

from ...data.padding import IGNORE_INDEX
from ...tasks.base import HasPerExampleLoss, HasPerOutputLoss, Task

LossFn = Callable[[Any, Any], torch.Tensor]
PerExampleFn = Callable[[Any, Any], torch.Tensor]
RTOL = 1e-4  # how closely the mean of the per-example losses must match the batch loss


def _take(value: Any, i: int) -> Any:
    """Example `i` of a batched value, keeping its batch axis (a tensor row, a dict or tuple of them)."""
    if isinstance(value, torch.Tensor):
        return value[i : i + 1] if value.dim() >= 1 else value
    if isinstance(value, Mapping):
        taken = {k: _take(v, i) for k, v in value.items()}
        try:
            return type(value)(taken)  # e.g. a model's output dataclass-dict, rebuilt
        except TypeError:
            return taken
    if isinstance(value, (tuple, list)):
        return type(value)(_take(v, i) for v in value)
    return value


class ExampleLoss:
    """`loss_fn` per example: `self(output, target, n)` -> a float tensor [n].

    Decides once, on the first batch, whether `per_example` agrees with `loss_fn` (their means equal
    within RTOL); if not, or if none is given, it loops over the examples with `loss_fn`."""

    def __init__(
        self, loss_fn: LossFn, per_example: Optional[PerExampleFn] = None, per_output: Optional[PerExampleFn] = None
    ) -> None:
        self.loss_fn, self.per_example, self.per_output = loss_fn, per_example, per_output
        self.agrees: Optional[bool] = None if per_example is not None else False

    @torch.no_grad()
    def columns(self, output: Any, target: Any) -> Optional[torch.Tensor]:
        """Each example's loss per output [n, k] (a task of several outputs, `HasPerOutputLoss`), once the
        per-example loss was found to agree with `loss_fn`; None otherwise."""
        if self.per_output is None or not self.agrees:
            return None
        try:
            columns = self.per_output(output, target).detach().double().cpu()
        except Exception:  # noqa: BLE001 - an output it does not fit: judged as a whole only
            return None
        return columns if columns.dim() == 2 and columns.shape[1] > 1 else None

    @torch.no_grad()
    def __call__(self, output: Any, target: Any, n: int) -> torch.Tensor:
        counted = _counted(target, n)
        losses = self._vectorised(output, target, n, counted) if self.agrees is not False else None
        if losses is None:
            losses = torch.stack(
                [self.loss_fn(_take(output, i), _take(target, i)).detach().double().reshape(()) for i in range(n)]
            ).cpu()
        # an example whose every target is ignored (-100) scores 0 in every model compared: it adds nothing
        return losses if counted is None else torch.where(counted, losses, torch.zeros_like(losses))

    def _vectorised(self, output: Any, target: Any, n: int, counted: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        assert self.per_example is not None
        try:
            losses = self.per_example(output, target).detach().double().reshape(-1).cpu()
        except Exception:  # noqa: BLE001 - a per-example loss that does not fit this output: use the loop
            self.agrees = False
            return None
        if self.agrees is None:
            batch = float(self.loss_fn(output, target))
            kept = n if counted is None else int(counted.sum())
            mean = float(losses[counted].sum() / max(kept, 1)) if counted is not None else float(losses.mean())
            mean = mean if len(losses) == n else math.nan
            self.agrees = math.isclose(mean, batch, rel_tol=RTOL, abs_tol=RTOL * 1e-3) or (
                not math.isfinite(batch) and not math.isfinite(mean)
            )
        return losses if self.agrees else None


def _counted(target: Any, n: int) -> Optional[torch.Tensor]:
    """Per example: does any of its targets count (is not the ignore index)? None: targets that cannot
    be ignored (floats, or not one tensor)."""
    if not isinstance(target, torch.Tensor) or target.is_floating_point() or target.dim() == 0 or len(target) != n:
        return None
    return (target.reshape(n, -1) != IGNORE_INDEX).any(1).cpu()


def per_example_of(task: Any) -> Optional[PerExampleFn]:
    """The task's vectorised per-example loss, if it declares one (`HasPerExampleLoss`)."""
    return task.per_example_loss if isinstance(task, HasPerExampleLoss) else None


def per_output_of(task: Any) -> Optional[PerExampleFn]:
    """The task's loss per example and output, [B, k], if it declares one (`HasPerOutputLoss`)."""
    return task.per_output_loss if isinstance(task, HasPerOutputLoss) else None


def example_loss(task: Task) -> ExampleLoss:
    """The task's loss per example: its `per_example_loss` while that agrees with `loss`, else `loss` on each."""
    return ExampleLoss(task.loss, per_example_of(task))
