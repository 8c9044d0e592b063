"""Gate `model_loss`: a model that computes its own loss from `labels` (model_output.model_loss=true)
computes the task's loss: the same value, on the same batch and the same logits.

saneloop derives what the loss must be at init, and every gate judges, from the task's loss on the
logits. Training on the model's own loss is only the same run if the two agree. They part when the
model shifts labels and the task does not (or the reverse), when one of them counts padding (another
ignore index), or when the model adds label smoothing, class weights or an auxiliary loss.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, model_and_task_loss
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped
from .measure.fitting import each

TIP = "tip 4: verify loss at init (the loss trained on is the loss judged)"


@dataclass
class ModelLossSettings(GateSettings):
    batches: int = bounded(2, low=1)  # training batches compared
    rtol: float = bounded(1e-4, low=0)  # allowed relative gap: float rounding, not another loss


def own_and_task_losses(
    model: nn.Module,
    loss_fn: Callable,
    batches: Iterable[Any],
    count: int,
    device: Optional[torch.device] = None,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> tuple[float, float, int]:
    """Mean per example of (the model's own loss, the task's loss) on the same forward of a copy in
    training mode, given the labels; and the number of examples."""
    probe = copy.deepcopy(model).train()
    own = task = 0.0
    n = 0
    with torch.no_grad():
        for batch in itertools.islice(each(batches), count):
            batch = batch if device is None else batch.to(device)
            a, b = model_and_task_loss(probe, batch, loss_fn, outputs)
            own, task, n = own + float(a) * len(batch), task + float(b) * len(batch), n + len(batch)
    return own / max(n, 1), task / max(n, 1), n


def losses_agree(
    model: nn.Module,
    loss_fn: Callable,
    batches: Iterable[Any],
    settings: ModelLossSettings = ModelLossSettings(),
    device: Optional[torch.device] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """The model's own loss (forward given the targets as `labels=`, the loss read at
    `model_output.loss_key`) against `loss_fn` on its logits, on the first `settings.batches` batches.

    Usable on its own: `losses_agree(gpt2, CharLM(65, shift_labels=True).loss, loader).passed`."""
    own, task, n = own_and_task_losses(model, loss_fn, batches, settings.batches, device, outputs)
    if n == 0:
        return skipped(GATE, "no batches to compare the two losses on", TIP)
    return judge(own, task, n, settings)


def judge(own: float, task: float, count: int, settings: ModelLossSettings) -> Verdict:
    gap = abs(own - task) / max(abs(task), 1e-12)
    if gap <= settings.rtol:
        return passed(
            GATE,
            round(gap, 6),
            f"<= {settings.rtol}",
            f"the model's own loss {own:.5f} equals the task's {task:.5f} on the same logits ({count} examples)",
            TIP,
        )
    return failed(
        GATE,
        round(gap, 6),
        f"<= {settings.rtol}",
        f"the model's own loss {own:.5f} and the task's loss {task:.5f} on the same batch and logits differ "
        f"by {gap:.1%} ({count} examples): the run would train on another loss than the one every gate "
        "judges. Likely causes: the model shifts labels and the task does not (task.shift_labels=true is "
        "the Hugging Face causal-LM convention) or the reverse, one of them counts padding (another ignore "
        "index, task.ignore_index), label smoothing or class weights in the model's loss, an auxiliary "
        f"loss, reduction='sum'. <model_output.model_loss=true, gates.{GATE}.rtol={settings.rtol}>",
        TIP,
    )


GATE = Gate(
    name="model_loss",
    stage="sanity",
    settings=ModelLossSettings,
    tip=TIP,
    what="a model trained on its own loss computes the task's loss on the same batch",
    checks=(losses_agree,),
    applies=("model_loss",),
)
