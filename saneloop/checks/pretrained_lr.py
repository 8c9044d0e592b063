"""Gate `pretrained_lr`: the first steps of fine-tuning keep what pretraining learned.

A learning rate meant for training from scratch destroys pretrained features within a few steps: the
held-out loss, which starts low, jumps well above its value at init and stays there (issue 20: a GPT-2
pretrained on Python source, fine-tuned at 3e-2, went 2.65 -> 3.80 nats in 5 steps and ended worse than a
GPT-2 trained from scratch; the run halted later with a message that blamed the labels). A copy of the
model takes the run's first `steps` optimizer steps on training batches; its loss on a few held-out
batches is measured at init and every `every` steps. It halts, naming the learning rate, when every one of
the later half of those measurements lies more than `rise` of the loss at init above it (plus `z` standard
errors): a rise that recovers is the noise of the first steps, not damage. Only for pretrained models.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from ..tasks.base import Task
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed
from .measure.fitting import cycled, each, step, trainable
from .measure.per_example import example_loss

TIP = "fine-tuning: a learning rate that keeps what pretraining learned"


@dataclass
class PretrainedLrSettings(GateSettings):
    steps: int = bounded(20, low=2)  # optimizer steps of a copy, on training batches, with the run's optimizer
    every: int = bounded(5, low=1)  # the held-out loss is measured every this many steps (and at init)
    batches: int = bounded(2, low=1)  # held-out (validation) batches the loss is measured on
    # Halt when the held-out loss stays more than this fraction of its value at init above it (plus z SE):
    # the 3e-2 on a pretrained GPT-2 rose 43% in 5 steps.
    rise: float = bounded(0.25, low=0)
    z: float = bounded(2.0, low=0)  # standard errors of the paired change since init (over the held-out items)


def lr_keeps_pretraining(
    model: nn.Module,
    task: Task,
    train: Iterable[Any],
    held_out: Iterable[Any],
    optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    settings: PretrainedLrSettings = PretrainedLrSettings(),
    device: Optional[torch.device] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Verdict:
    """Train a copy of `model` for `settings.steps` steps on `train` with `optimizer` (a factory of the
    parameters, as the run's `optim`), measuring its loss on the first `settings.batches` of `held_out`
    at init and every `settings.every` steps; judge the curve (`judge`). Usable on its own:
    `lr_keeps_pretraining(model, Classify(10), train_loader, val_loader, partial(torch.optim.Adam, lr=3e-2))`."""
    probe = copy.deepcopy(model)
    moved = (lambda b: b) if device is None else (lambda b: b.to(device))
    kept = [moved(b) for b in itertools.islice(each(held_out), settings.batches)]
    opt = optimizer(trainable(probe))
    lr = float(opt.param_groups[0]["lr"])
    start = _held_out(probe, task, kept, outputs)
    curve: list[tuple[int, float, float]] = [(0, float(start.mean()), 0.0)]
    for k, batch in enumerate(itertools.islice(cycled(train, settings.steps), settings.steps), start=1):
        probe.train()
        step(probe, opt, task.loss, moved(batch), outputs)
        if k % settings.every == 0 or k == settings.steps:
            now = _held_out(probe, task, kept, outputs)
            curve.append((k, float(now.mean()), _se(now - start)))
    return judge(curve, lr, settings)


@torch.no_grad()
def _held_out(model: nn.Module, task: Task, batches: list, outputs: ModelOutputs) -> torch.Tensor:
    """The loss of each example of `batches`, in eval mode."""
    model.eval()
    scorer = example_loss(task)
    return torch.cat([scorer(forward(model, b, outputs), b.targets, len(b)) for b in batches]).double()


def _se(values: torch.Tensor) -> float:
    return float(values.std() / math.sqrt(len(values))) if len(values) > 1 else 0.0


def judge(curve: list[tuple[int, float, float]], lr: float, settings: PretrainedLrSettings) -> Verdict:
    """`curve`: (step, held-out loss, standard error of its paired change since step 0) from step 0; halt when
    the later half of the measurements all stay above the loss at init raised by `rise`, plus `z` standard
    errors of their change."""
    start = curve[0][1]
    bar = start * (1 + settings.rise)
    later = curve[1:][len(curve[1:]) // 2 :]
    above = [not math.isfinite(loss) or loss > bar + settings.z * se for _, loss, se in later]
    shown = " -> ".join(f"{loss:.4g} (step {k})" for k, loss, _ in curve)
    worst = min((loss for _, loss, _ in later), default=start)
    margin = (bar - worst) / abs(bar) if bar and math.isfinite(worst) else None
    key = f"<optim.lr={lr:g}, gates.pretrained_lr.rise={settings.rise}>"
    if later and all(above):
        return failed(
            GATE,
            round(worst, 4) if math.isfinite(worst) else worst,
            f"<= {bar:.4g}",
            f"held-out loss of the pretrained model in its first {curve[-1][0]} steps: {shown}: it rose above "
            f"{bar:.4g} ({1 + settings.rise:g}x its value at init, beyond noise) and stayed there. The learning rate "
            f"optim.lr={lr:g} destroys what pretraining learned: fine-tuning takes one 10-100x lower than training "
            f"from scratch (e.g. 1e-5 to 1e-4 with AdamW for a transformer), often with a warmup {key}",
            TIP,
            margin=margin,
            curve=curve,
        )
    return passed(
        GATE,
        round(worst, 4),
        f"<= {bar:.4g}",
        f"held-out loss of the pretrained model in its first {curve[-1][0]} steps at optim.lr={lr:g}: {shown}; "
        f"it did not stay above {bar:.4g} ({1 + settings.rise:g}x its value at init)",
        TIP,
        margin=margin,
        curve=curve,
    )


GATE = Gate(
    name="pretrained_lr",
    stage="sanity",
    budget_share=0.05,
    settings=PretrainedLrSettings,
    tip=TIP,
    what="a pretrained model's held-out loss does not jump and stay above its value at init in its first steps",
    checks=(lr_keeps_pretraining,),
    after=("init_loss",),
    applies=("pretrained",),
)
