"""The loss curve a person reads first: the training loss at every step, and the validation loss at a few
evaluations during training, each with its error bar (figures/loss.png, beside the train stage's gate in
report.md; `val/loss` in TensorBoard). The test set is not read: only `evaluate` does.

Each evaluation reads the same fixed, seeded `train.curve_items` validation items (all of them when the set
is smaller): the points estimate the validation loss, with error bars, at a cost that does not grow with
the validation set (five full passes over a large one cost more than the training steps of a short run).
The report states the share: seconds in these evaluations over seconds in the training steps (a note, and
report.json `cost.curve_share_of_train`). On a model whose evaluations would cost more than `CURVE_SHARE` of
the planned training (the plain step setup timed x the steps), and more than `CURVE_FLOOR_S`, the points after
step 0 are fewer, spread over the run as before, the last at the final step (the report says so).

The evaluations run on every process (the items are split and gathered back, as in `evaluate`) at the
same steps, so they stay in step; they draw nothing from the training stream.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..checks.loss_decreases import GATE as LOSS_DECREASES
from ..checks.measure.per_example import example_loss
from ..config.schema import TrainConfig
from ..data.loaders import Loaders
from ..data.streams import Stream, generator
from ..engine import interrupts
from ..engine.hooks import Findings, TrainHook, next_after
from ..engine.loop import predict_all
from ..models.forward import ModelOutputs
from ..record.figures import loss_curve_figure
from ..record.run_record import RunRecord
from .context import Built

CURVE_SHARE = 0.1  # the evaluations during training may cost this share of the training steps...
CURVE_FLOOR_S = 10.0  # ...or this many seconds, where that is more (a small model's points cost nothing)


class LossCurve(TrainHook):
    """The training loss of every step and the validation loss at `train.full_evals` steps, in one figure."""

    def __init__(
        self, record: RunRecord, built: Built, accelerator: Any, train: TrainConfig, total: int, outputs: ModelOutputs
    ) -> None:
        self.record, self.accelerator, self.outputs = record, accelerator, outputs
        self.per_example = example_loss(built.task)  # checked against the task's loss on the first evaluation
        self.steps, self.total = sorted(eval_steps(train.full_evals, total)), total
        self.points: list[tuple[int, float, float]] = []  # (step, mean validation loss, its standard error)
        self.items, self.of = min(train.curve_items, len(built.val_set)), len(built.val_set)  # type: ignore[arg-type]
        self.loader = accelerator.prepare(curve_loader(built.loaders, train.curve_items)) if self.steps else None
        self.seconds, self.started = 0.0, time.perf_counter()  # in evaluations; when the fit started

    def on_fit_start(self, model: torch.nn.Module, step: int) -> Findings:
        """Step 0: the validation loss at init (after a resume: at the resumed step, if it is an evaluation step)."""
        self.started = time.perf_counter()
        if step in self.steps:
            self._evaluate(model, step)
            self._bound(step)
        self.due = next_after(self.steps, step)
        return []

    def on_step_end(self, model: torch.nn.Module, step: int, batch: Any) -> Findings:
        if step >= self.due:
            self._evaluate(model, step)
            self.due = next_after(self.steps, step)
        return []

    def on_fit_end(self, model: torch.nn.Module, step: int, losses: torch.Tensor) -> Findings:
        if self.points:
            self.record.note(self.share())
            training = max(time.perf_counter() - self.started - self.seconds, 1e-9)
            self.record.report.cost["curve_share_of_train"] = round(self.seconds / training, 4)
        if len(losses):
            steps, train = list(range(1, len(losses) + 1)), losses.detach().float().cpu().tolist()
            self.record.publish(LOSS_DECREASES, "loss", lambda: loss_curve_figure(steps, train, self.points))
        return []

    def _evaluate(self, model: torch.nn.Module, step: int) -> None:
        """One point of the curve; none where a signal cut the pass (the step's checkpoint comes next, and a
        resumed run evaluates this step again)."""
        began = time.perf_counter()
        try:
            outputs, targets, _ = predict_all(model, self.loader, self.accelerator, outputs=self.outputs)
        except interrupts.Cut:
            return
        finally:
            model.train()  # predict_all evaluates in eval mode; the next step trains again
            self.seconds += time.perf_counter() - began
        if len(targets) == 0:  # a loader that dropped every batch (drop_last): full_eval names it at the end
            return
        mean, se = mean_and_se(self.per_example(outputs, targets, len(targets)))
        self.points.append((step, mean, se))
        self.record.scalar("val/loss", mean, step)

    def _bound(self, step: int) -> None:
        """Fewer points where the ones planned would cost more than `CURVE_SHARE` of the planned training (the
        plain step setup timed, `cost.plain_step_s`, x the steps left) and more than `CURVE_FLOOR_S`."""
        step_s, later = self.record.report.cost.get("plain_step_s"), [s for s in self.steps if s > step]
        if not step_s or not self.points or not later or self.seconds <= 0:
            return
        allowed = max(CURVE_SHARE * (self.total - step) * step_s, CURVE_FLOOR_S)
        fits = max(int(allowed / self.seconds) - 1, 1)  # each costs what this one did; the last one stays
        if fits < len(later):
            self.steps = [step, *sorted(s for s in eval_steps(fits, self.total) if s > step)]
            self.record.note(
                f"loss curve: {fits} evaluations after step {step}, not {len(later)} <train.full_evals>: one took "
                f"{self.seconds:.1f} s, and {len(later)} would cost more than {CURVE_SHARE:.0%} of the "
                f"{self.total - step} training steps ({step_s:.3g} s each)"
            )

    def share(self) -> str:
        """What the curve's evaluations cost against the training steps (the fit's time less theirs)."""
        training = max(time.perf_counter() - self.started - self.seconds, 1e-9)
        items = f"{self.items:,} of {self.of:,}" if self.items < self.of else f"all {self.of:,}"
        return (
            f"loss curve: {len(self.points)} evaluations of {items} validation items <train.curve_items> took "
            f"{self.seconds:.1f} s, {self.seconds / training:.0%} of the {training:.1f} s of training steps"
        )


def curve_loader(loaders: Loaders, items: int) -> DataLoader:
    """The validation loader of the curve's points: the whole set, or `items` of it drawn once (seeded: the
    same items at every point and in every run of the seed), in the set's order."""
    size = len(loaders.dataset("val"))  # type: ignore[arg-type]
    if items >= size:
        return loaders.evaluation("val")
    chosen = torch.randperm(size, generator=generator(loaders.seed, Stream.CURVE_ITEMS))[:items]
    return loaders.evaluation("val", chosen.sort().values.tolist())


def eval_steps(count: int, total: int) -> set[int]:
    """Step 0 (the loss at init) and `count` steps spread evenly over 1..total, the last one included."""
    if count <= 0 or total <= 0:
        return set()
    return {0} | {max(1, round(total * k / count)) for k in range(1, count + 1)}


def mean_and_se(values: torch.Tensor) -> tuple[float, float]:
    values = values[torch.isfinite(values)]
    if len(values) == 0:
        return math.nan, math.nan
    se = float(values.std() / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return float(values.mean()), se
