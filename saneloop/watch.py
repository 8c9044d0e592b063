"""What the train stage shows a person: the exact first batch entering the net (tip 10), and the
predictions on a fixed test batch at every evaluation during training (tip 11).

The batch is captured by a forward pre-hook on the model, not re-read from the dataset: what is
drawn is what the net got, after collate, augmentation and device placement. Main process only;
the train loop pays one integer test per step, and a forward of a small batch per evaluation.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch.utils.data import default_collate

from .context import RunContext
from .figures import batch_figure, dynamics_figure, log_image, predictions_figure, publish
from .tasks.views import PredictionView

FIXED_BATCH = 16  # test examples whose predictions are followed through training
GATE = "loss_decreases"  # the train stage's gate: its figures are listed beside it in report.md


class TrainWatch:
    def __init__(self, ctx: RunContext, steps_per_epoch: int) -> None:
        self.ctx = ctx
        self.enabled = bool(ctx.cfg.output.figures) and ctx.accelerator.is_main_process
        self.due = self._due(steps_per_epoch)
        self.first: Optional[tuple[Any, Any]] = None
        self.snapshots: list[tuple[int, PredictionView]] = []
        if self.enabled:
            n = min(FIXED_BATCH, len(ctx.test_set))
            self.fixed = _test_collate(ctx)([ctx.test_set[i] for i in range(n)])
            self._snapshot(0)  # before the hook: this forward is not a training batch
            self._hook = ctx.model.register_forward_pre_hook(self._capture)

    def _due(self, steps_per_epoch: int) -> set[int]:
        """Steps to evaluate at: every `train.eval_every`, or by default at 1, 2, 4, 8, ... (a model
        changes fastest early, so the dynamics are best sampled there)."""
        cfg = self.ctx.cfg.train
        total = steps_per_epoch * int(cfg.epochs)
        total = min(total, int(cfg.max_steps)) if cfg.max_steps is not None else total
        if cfg.eval_every is not None:
            return set(range(max(1, int(cfg.eval_every)), total + 1, max(1, int(cfg.eval_every))))
        return {2 ** k for k in range(max(total, 1).bit_length())}

    def _capture(self, module: torch.nn.Module, args: tuple) -> None:
        """Forward pre-hook: keep the first batch's inputs exactly as the model receives them, once."""
        self._hook.remove()
        inputs = args[0] if args else None
        self.first = (inputs.detach().cpu() if isinstance(inputs, torch.Tensor) else inputs, None)

    def after_step(self, step: int, targets: Any) -> None:
        """Called by the train loop after each optimizer step (1-based)."""
        if not self.enabled:
            return
        if step == 1 and self.first is not None:
            self.first = (self.first[0], targets.detach().cpu() if isinstance(targets, torch.Tensor) else targets)
        if step in self.due:
            self._snapshot(step)

    @torch.no_grad()
    def _snapshot(self, step: int) -> None:
        model, (inputs, targets) = self.ctx.model, self.fixed
        was_training = model.training
        model.eval()
        outputs = model(inputs.to(self.ctx.device) if isinstance(inputs, torch.Tensor) else inputs)
        model.train(was_training)
        loss = float(self.ctx.task.loss(outputs.float(), targets.to(outputs.device)))
        self.ctx.tracker.scalar("fixed_batch/loss", loss, step)
        self.snapshots.append((step, self.ctx.task.view_predictions(outputs.float().cpu(), targets)))

    def finish(self, last_step: int) -> None:
        """Draw the figures: the first batch, the dynamics (one figure), and each step as a TensorBoard image."""
        if not self.enabled:
            return
        if last_step and (not self.snapshots or self.snapshots[-1][0] != last_step):
            self._snapshot(last_step)
        if self.first is not None and self.first[1] is not None:
            inputs, targets = self.first
            publish(self.ctx, GATE, "batch", lambda: batch_figure(self.ctx.task.view_batch(inputs, targets)))
        if self.snapshots:
            steps, views = zip(*self.snapshots)
            publish(self.ctx, GATE, "dynamics", lambda: dynamics_figure(list(steps), list(views)), last_step)
            for step, view in self.snapshots:
                log_image(self.ctx, "fixed_batch/predictions", lambda: predictions_figure(
                    view, f"fixed test batch, step {step}"), step)


def _test_collate(ctx: RunContext) -> Any:
    from hydra.utils import instantiate
    node = ctx.cfg.loader.test.get("collate_fn")
    return instantiate(node) if node is not None else default_collate
