"""Gate `input_independent`: a model trained on real inputs beats the same model trained on zeros.

If the labels do not follow the inputs (shuffled apart from them, misaligned after a join or a
filter), a model learns nothing from the inputs that a model fed zeros does not. The loss is
measured on held-out batches, because a model can memorise even random labels on its training
data (Zhang et al., 2017).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import torch
from torch import nn

from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "tip 7: input-independent baseline"
GATE = "input_independent"

LossFn = Callable[[Any, torch.Tensor], torch.Tensor]
Batches = Callable[[], Iterable[tuple[Any, torch.Tensor]]]


@dataclass
class Settings(GateSettings):
    steps: int = 100  # optimizer steps for each of the two copies, on the same batches
    lr: Optional[float] = None  # learning rate for both; null = optim.lr
    held_out_batches: int = 2  # test batches the two losses are measured on
    # real-input loss / zeroed-input loss must be at most this: "clearly lower", not a tie.
    max_ratio: float = 0.9


def learns_from_inputs(model: nn.Module, make_optimizer: Callable[[list], torch.optim.Optimizer],
                       loss_fn: LossFn, train_batches: Batches, held_out: Batches, settings: Settings) -> Verdict:
    """Train two copies of `model` from the same init for `settings.steps` steps on the same batches,
    one on real inputs and one on zeroed inputs; compare their losses on `held_out` batches.

    `train_batches` and `held_out` return a fresh iterable each call, so both copies see the same data.
    """
    losses = {}
    for zeroed in (False, True):
        trained = _fit_copy(model, make_optimizer, loss_fn, train_batches, settings.steps, zeroed)
        losses[zeroed] = _held_out_loss(trained, loss_fn, held_out, settings.held_out_batches, zeroed)
    return compare(losses[False], losses[True], settings)


def compare(real: float, zeroed: float, settings: Settings) -> Verdict:
    """The verdict on the two held-out losses."""
    ratio = real / zeroed if zeroed > 0 else (0.0 if real <= 0 else math.inf)
    if not math.isfinite(real):
        ratio = math.inf
    shown = f"<= {settings.max_ratio}"
    key = (f"<gates.input_independent.max_ratio={settings.max_ratio}, "
           f"gates.input_independent.steps={settings.steps}>")
    if ratio <= settings.max_ratio:
        return passed(GATE, round(ratio, 4), shown, f"after {settings.steps} steps, held-out loss {real:.4f} on real "
                      f"inputs vs {zeroed:.4f} on zeroed inputs (ratio {ratio:.2f})", TIP, real=real, zeroed=zeroed)
    return failed(GATE, round(ratio, 4) if math.isfinite(ratio) else ratio, shown,
                  f"after {settings.steps} steps, the model fed real inputs reached held-out loss {real:.4f}, the same "
                  f"model fed zeros {zeroed:.4f} (ratio {ratio:.2f}): it learns no more from the inputs than from "
                  "their absence. Likely causes: labels shuffled apart from the inputs (a permutation applied to one "
                  "and not the other), test labels misaligned with test inputs, inputs overwritten or constant, a "
                  f"model that ignores its input, a learning rate far too low for {settings.steps} steps. {key}",
                  TIP, real=real, zeroed=zeroed)


def _fit_copy(model: nn.Module, make_optimizer, loss_fn: LossFn, batches: Batches, steps: int,
              zeroed: bool) -> nn.Module:
    """A copy trained from the same init; the same seed for both, so Dropout draws the same masks."""
    trained = copy.deepcopy(model).train()
    optimizer = make_optimizer([p for p in trained.parameters() if p.requires_grad])
    done = 0
    cuda = sorted({p.device.index or 0 for p in trained.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):  # the run's random streams are left as they were
        torch.manual_seed(0)
        while done < steps:
            before = done
            for inputs, targets in batches():
                optimizer.zero_grad(set_to_none=True)
                loss_fn(trained(_zeros(inputs) if zeroed else inputs), targets).backward()
                optimizer.step()
                done += 1
                if done == steps:
                    break
            if done == before:  # no batches at all
                break
    return trained


@torch.no_grad()
def _held_out_loss(model: nn.Module, loss_fn: LossFn, batches: Batches, limit: int, zeroed: bool) -> float:
    model.eval()
    losses = []
    for k, (inputs, targets) in enumerate(batches()):
        if k == limit:
            break
        losses.append(float(loss_fn(model(_zeros(inputs) if zeroed else inputs), targets)))
    return sum(losses) / len(losses) if losses else math.nan


def _zeros(inputs: Any) -> Any:
    """Zeros shaped like the inputs (token ids become all token 0: just as input-independent)."""
    return torch.zeros_like(inputs) if isinstance(inputs, torch.Tensor) else inputs
