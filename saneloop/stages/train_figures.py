"""What the train stage shows a person: the exact first batch entering the net (tip 10), and the
predictions on a fixed validation batch at every evaluation during training (tip 11).

The first batch is the one the loop hands the model, after collate, augmentation and device
placement: what is drawn is what the net got. Main process only; a train hook called at step 1 and
at the evaluation steps (the loop's one integer test per step), a forward of a small batch each.
Each figure is handed to the background drawer as soon as its data exist (the first batch at step
1, each snapshot when taken), so it is drawn while training goes on.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Optional

import torch

from ..checks.loss_decreases import GATE as LOSS_DECREASES
from ..config.schema import TrainConfig
from ..data.batch import Batch
from ..engine.hooks import Findings, TrainHook, next_after
from ..models.forward import ModelOutputs, forward
from ..record.figures import batch_figure, dynamics_figure, predictions_figure
from ..record.run_record import RunRecord
from ..tasks.views import PredictionView
from .context import Built

FIXED_BATCH = 16  # validation examples whose predictions are followed through training


class TrainFigures(TrainHook):
    """The figures of tips 10 and 11: the first batch the net gets, its predictions on a fixed validation batch."""

    def __init__(
        self,
        record: RunRecord,
        built: Built,
        device: torch.device,
        train: TrainConfig,
        total: int,
        outputs: ModelOutputs,
        snapshots: bool = True,  # False: a sharded model (FSDP), whose forward runs on every process or none
    ) -> None:
        self.record, self.built, self.device, self.outputs = record, built, device, outputs
        self.enabled = record.main and record.figures
        self.snapshot_steps = due_steps(train, total) if snapshots else set()
        self.steps = sorted(self.snapshot_steps | {1}) if self.enabled else []  # 1: the first batch
        self.first: Optional[tuple[Any, Any]] = None
        self.snapshots: list[tuple[int, PredictionView]] = []
        if self.enabled and snapshots:
            self.fixed = built.loaders.first_items("val", FIXED_BATCH)
            self._snapshot(0)

    def on_fit_start(self, model: torch.nn.Module, step: int) -> Findings:
        self.due = next_after(self.steps, step)
        return []

    def on_step_end(self, model: torch.nn.Module, step: int, batch: Batch) -> Findings:
        """After each optimizer step (1-based) it asked for, with the batch it trained on."""
        if step < self.due:
            return []
        if step == 1:
            inputs, targets = batch.first_input, batch.targets
            self.first = (
                inputs.detach().cpu() if isinstance(inputs, torch.Tensor) else inputs,
                targets.detach().cpu() if isinstance(targets, torch.Tensor) else targets,
            )
            self._publish_first()
        if step in self.snapshot_steps:
            self._snapshot(step)
        self.due = next_after(self.steps, step)
        return []

    @torch.no_grad()
    def _snapshot(self, step: int) -> None:
        model, batch = self.built.model, self.fixed.to(self.device)
        was_training = model.training
        model.eval()
        outputs = forward(model, batch, self.outputs)
        model.train(was_training)
        loss = float(self.built.task.loss(outputs.float(), batch.targets))
        self.record.scalar("fixed_batch/loss", loss, step)
        view = self.built.task.view_predictions(outputs.float().cpu(), self.fixed.targets)
        self.snapshots.append((step, view))
        title = f"fixed validation batch, step {step}"
        self.record.image("fixed_batch/predictions", partial(predictions_figure, view, title), step)

    def _publish_first(self) -> None:
        """The first batch, decoded by the task now (cheap), drawn in the background."""
        inputs, targets = self.first
        try:
            view = self.built.task.view_batch(inputs, targets)
        except Exception as err:  # noqa: BLE001 - a task that cannot decode its batch: a note, as a figure would
            self.record.note(f"figure batch not drawn: {type(err).__name__}: {err}")
            return
        self.record.publish(LOSS_DECREASES, "batch", partial(batch_figure, view))

    def on_fit_end(self, model: torch.nn.Module, step: int, losses: torch.Tensor) -> Findings:
        """The last snapshot and the dynamics figure (every snapshot in one); the rest went out as made."""
        if not self.enabled:
            return []
        if step and self.snapshot_steps and (not self.snapshots or self.snapshots[-1][0] != step):
            self._snapshot(step)
        if self.snapshots:
            steps, views = zip(*self.snapshots)
            self.record.publish(LOSS_DECREASES, "dynamics", partial(dynamics_figure, list(steps), list(views)), step)
        return []


def due_steps(train: TrainConfig, total: int) -> set[int]:
    """Steps to evaluate at: every `train.eval_every`, or by default at 1, 2, 4, 8, ... (a model changes
    fastest early, so the dynamics are best sampled there)."""
    if train.eval_every is not None:
        return set(range(max(1, int(train.eval_every)), total + 1, max(1, int(train.eval_every))))
    return {2**k for k in range(max(total, 1).bit_length())}
