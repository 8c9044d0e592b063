"""Gates `modes`, `train_mode`, `eval_mode`: the model is in training mode in every training step and
in eval mode in every evaluation, whoever handed it over, and BatchNorm statistics do not move
while it is evaluated.

A model handed over in eval mode (Hugging Face's `from_pretrained` returns one; Lightning >= 2.2 no
longer forces `.train()`), a `train()` override that does not reach the children, a validate step
that leaves the model in eval, BatchNorm that keeps using and updating batch statistics at test
time: each trains or evaluates a different model than the one meant, and nothing crashes.
`modes` (sanity) switches a copy both ways and runs it; `train_mode` and `eval_mode` watch the
module tree itself on every forward of the train and evaluate stages.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from ..data.batch import Batch
from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .base.gate import Gate
from .base.settings import GateSettings
from .base.verdict import Verdict, failed, passed
from .measure.probing import as_batch

TIP = "the right mode: train() for every training step, eval() for every evaluation"
_LISTED = 6
CAUSES = (
    "a train()/eval() override that does not call super() (so children keep their mode), a module "
    "built or loaded in eval mode and kept there, a forward or validate step that calls .eval() (or "
    ".train()) and does not switch back, BatchNorm called with training=True whatever the mode, "
    "BatchNorm re-estimated on test batches (test-time adaptation left on)"
)


@dataclass
class ModesSettings(GateSettings):
    pass


@dataclass
class TrainModeSettings(GateSettings):
    pass


@dataclass
class EvalModeSettings(GateSettings):
    pass


def wrong_mode(model: nn.Module, training: bool) -> list[str]:
    """Names of the modules (the root is "model") whose mode is not `training`."""
    return [name or "model" for name, module in model.named_modules() if module.training != training]


def batchnorm_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The running statistics of every BatchNorm-like module (anything with running_mean / running_var)."""
    found = {}
    for name, module in model.named_modules():
        for key in ("running_mean", "running_var", "num_batches_tracked"):
            value = getattr(module, key, None)
            if isinstance(value, torch.Tensor):
                found[f"{name or 'model'}.{key}"] = value.detach().clone()
    return found


def moved(before: dict[str, torch.Tensor], model: nn.Module) -> list[str]:
    after = batchnorm_state(model)
    return [k for k, v in before.items() if k in after and not torch.equal(v, after[k])]


@torch.no_grad()
def switches_both_ways(model: nn.Module, batch: Batch, *, outputs: ModelOutputs = DEFAULT_OUTPUTS) -> Verdict:
    """On a copy: train() reaches every module and a training forward keeps it there; eval() reaches
    every module, an eval forward keeps it there and moves no BatchNorm statistics."""
    batch, probe = as_batch(batch), copy.deepcopy(model)
    found = []
    for training, phase in ((True, "train()"), (False, "eval()")):
        probe.train(training)
        stuck = wrong_mode(probe, training)
        if stuck:
            found.append(f"after model.{phase}, {_few(stuck)} still in {'eval' if training else 'training'} mode")
            continue
        before = batchnorm_state(probe)
        forward(probe, batch, outputs)
        flipped = wrong_mode(probe, training)
        if flipped:
            found.append(f"a forward in {'training' if training else 'eval'} mode switched {_few(flipped)}")
        if not training and moved(before, probe):
            found.append(f"a forward in eval mode moved BatchNorm statistics {_few(moved(before, probe))}")
    if not found:
        return passed(
            MODES,
            0,
            0,
            "train() and eval() reach every module; forwards keep the mode; an eval forward moves no "
            "BatchNorm statistics",
            TIP,
        )
    return failed(MODES, len(found), 0, f"{'; '.join(found)}. Likely causes: {CAUSES}.", TIP)


@dataclass
class ModeWatch:
    """Watches every forward of `model` (with gradients on for training, off for evaluation): each
    module's mode, and for evaluation the BatchNorm statistics from start to end."""

    model: nn.Module
    training: bool
    gate: str
    calls: int = 0
    first_wrong: Optional[tuple[int, list[str]]] = None
    before: dict[str, torch.Tensor] = field(default_factory=dict)
    handle: Any = None

    def start(self) -> ModeWatch:
        """Watch the forwards from now on (`with ModeWatch(...)` starts and stops it)."""
        self.before = {} if self.training else batchnorm_state(self.model)
        self.handle = self.model.register_forward_pre_hook(self._check)
        return self

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    def __enter__(self) -> ModeWatch:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _check(self, module: nn.Module, args: Any) -> None:
        if torch.is_grad_enabled() != self.training:  # the train stage's no-grad snapshots are evaluations
            return
        self.calls += 1
        if self.first_wrong is None:
            wrong = wrong_mode(self.model, self.training)
            if wrong:
                self.first_wrong = (self.calls, wrong)

    def verdict(self) -> Verdict:
        what, whats = ("training step", "training steps") if self.training else ("forward", "evaluation forwards")
        stats = moved(self.before, self.model) if not self.training else []
        if self.first_wrong is None and not stats:
            extra = "" if self.training else "; BatchNorm statistics unchanged"
            return passed(self.gate, 0, 0, f"every module in {self._mode} mode in all {self.calls} {whats}{extra}", TIP)
        found = []
        if self.first_wrong is not None:
            call, names = self.first_wrong
            found.append(f"from {what} {call} of {self.calls}, {_few(names)} not in {self._mode} mode")
        if stats:
            found.append(f"the evaluation moved BatchNorm statistics {_few(stats)}")
        return failed(self.gate, len(found), 0, f"{'; '.join(found)}. Likely causes: {CAUSES}.", TIP)

    @property
    def _mode(self) -> str:
        return "training" if self.training else "eval"


def _few(names: list[str]) -> str:
    return "[" + ", ".join(names[:_LISTED]) + (f", +{len(names) - _LISTED} more" if len(names) > _LISTED else "") + "]"


MODES = Gate(
    name="modes",
    stage="sanity",
    settings=ModesSettings,
    tip=TIP,
    what="train() and eval() reach every module, forwards keep the mode, an eval forward moves no BatchNorm statistics",
    checks=(switches_both_ways,),
)
TRAIN_MODE = Gate(
    name="train_mode",
    stage="train",
    settings=TrainModeSettings,
    tip=TIP,
    what="every module is in training mode at every training step",
    event="every step (a forward pre-hook), judged at the end of the fit",
)
EVAL_MODE = Gate(
    name="eval_mode",
    stage="evaluate",
    settings=EvalModeSettings,
    tip=TIP,
    what="every module is in eval mode in every evaluation forward, BatchNorm statistics unchanged",
)
