"""Gate `capacity`: a wider model, trained for the same short budget, reaches a training loss no
higher than the model's, within noise. For a pretrained model: the same model with more of it trained
(`unfreeze`), or a higher adapter rank (`wider` on `peft.*` keys, with init_from's weights loaded). For a
large model: the model against a narrower one (`direction`), the larger of the pair being the run's.

More capacity should fit the training data at least as well. When it does not, something in the
model does not scale: an init that ignores fan-in, a width argument that is ignored or narrows
another layer, a learning rate only the smaller model tolerates. Each shows as well when the run's model
is the larger of the pair, which costs a fraction of the model's memory and time instead of several times.
"""

from __future__ import annotations

import copy
import fnmatch
import math
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin
from .measure import budget
from .measure.fitting import LossFn, OptimizerFactory, cycled, default_optimizer, with_lr
from .measure.learner import Draws, Learner, Source

TIP = "tip 9: a bit more capacity lowers the training loss"


@dataclass
class CapacitySettings(GateSettings):
    # Config overrides that make the model wider, e.g. {model.hidden: 512}; empty: the gate is skipped.
    wider: dict[str, Any] = field(default_factory=dict)
    # For a pretrained model, more capacity is more of it trained: globs of frozen parameters to unfreeze in
    # the larger copy, e.g. [body.2.*] (a wider model would start from random init, not from the pretraining).
    unfreeze: list[str] = field(default_factory=list)
    steps: int = bounded(100, low=2)  # optimizer steps for each model before the first comparison
    # If the wider model is behind after `steps`, both train on (the gap doubling) up to this budget: a
    # wider model can start slower at the same learning rate and still fit better soon after.
    max_steps: int = bounded(800, low=2)
    lr: Optional[float] = bounded(None, low=0, above=True)  # learning rate for both; null = optim.lr
    window: float = bounded(0.25, low=0, high=1, above=True)  # final fraction of the steps whose losses are compared
    # Allowed excess of the wider model's loss, in standard errors of the paired per-step difference.
    z: float = bounded(2.0, low=0)
    # Plus this fraction of the model's own loss: the two curves are correlated from step to step, so
    # the standard error alone understates how far two correct runs of 100 steps can end apart.
    rtol: float = bounded(0.25, low=0)
    # Which pair: wider (the model and a wider one), narrower (the model and one narrower by the same factor:
    # a key at v widened to w is set to v*v/w), auto (narrower for a model above `narrow_above` trainable
    # parameters, whose wider twin and its optimizer state would take several times the memory of training it).
    direction: str = bounded("auto", choices=("auto", "wider", "narrower"))
    narrow_above: int = bounded(1_000_000, low=0)


Batches = Union[Iterable[Any], Callable[[], Iterable[Any]]]  # batches, or what gives them afresh in the same order
MIN_EARLY_WINDOW = 8  # paired steps a comparison needs before the larger model may pass early


def wider_no_worse(
    model: Source,
    wider: Source,
    batches: Batches,
    loss_fn: LossFn,
    optimizer: OptimizerFactory = default_optimizer,
    settings: CapacitySettings = CapacitySettings(),
    what: str = "a wider model",
    device: Optional[torch.device] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
    narrower: bool = False,
) -> Verdict:
    """Train `model` and the larger `wider` on the same batches and random draws and compare their training-loss
    curves (`judge`) after `settings.steps` steps; while the larger is behind, train on, doubling, up to
    `settings.max_steps`. `narrower`: `model` is a narrower model and `wider` the run's (as the message says).

    In turns, not in lockstep: the smaller trains first and is parked (weights and optimizer state in a temporary
    file), so one model trains at a time; the larger may pass early, once ahead by more than the noise. Out of the
    time allowance (measure/budget.py): inconclusive, with what it measured and would need.

    Usable on its own: `wider_no_worse(MLP(64, 10, hidden=32), MLP(64, 10, hidden=64), loader, F.cross_entropy)`.
    """
    make = with_lr(optimizer, settings.lr)
    small, large = (Learner(m, make, cycled(_fresh(batches), settings.max_steps)) for m in (model, wider))
    train = partial(Learner.train_to, draws=Draws(), loss_fn=loss_fn, device=device, outputs=outputs)
    judged = partial(judge, what=what, settings=settings, narrower=narrower)
    try:
        with tempfile.TemporaryDirectory(prefix="saneloop-capacity-") as folder:
            return _in_turns(small, large, train, Path(folder), settings, judged)
    except budget.OutOfBudget as out:
        return _inconclusive(out, small, large, settings, judged)
    finally:
        small.drop()
        large.drop()


def _in_turns(
    small: Learner, large: Learner, train: Callable, folder: Path, settings: CapacitySettings, judged: Callable
) -> Verdict:
    """The smaller model to `target` steps, then parked; the larger to `target`, passing early when clearly
    ahead; both on to twice the target while the larger is behind. The smaller goes first: it is the cheaper,
    and an early pass saves steps of the dearer one."""
    target = settings.steps
    while True:
        train(small, target)
        if target < settings.max_steps:
            small.park(folder)  # it may train on after the larger's turn
        else:
            small.drop()
        for point in _early_points(len(large.losses), target, settings.window):
            train(large, point)
            if len(large.losses) == point and _clearly_ahead(small.losses[:point], large.losses, settings):
                early = judged(small.losses[:point], large.losses)
                return replace(
                    early, message=f"{early.message}; decided at step {point} of {target}, ahead by more than the noise"
                )
        train(large, target)
        verdict = judged(small.losses, large.losses)
        if verdict.passed or min(len(small.losses), len(large.losses)) < target or target >= settings.max_steps:
            return verdict
        large.park(folder)
        target = min(2 * target, settings.max_steps)


def _early_points(done: int, target: int, window: float) -> list[int]:
    """Quarters of the way to `target` where the larger model may pass early (the window long enough to judge)."""
    return [k for k in (target // 4, target // 2, 3 * target // 4) if k > done and int(k * window) >= MIN_EARLY_WINDOW]


def _clearly_ahead(small: Sequence[float], large: Sequence[float], settings: CapacitySettings) -> bool:
    """The larger model's loss below the smaller's by more than `z` standard errors (no `rtol` allowance)."""
    _, _, _, mean, se = _paired(small, large, settings.window)
    return math.isfinite(mean) and mean + settings.z * se < 0


def _fresh(batches: Batches) -> Iterable[Any]:
    return batches() if callable(batches) else batches


def _inconclusive(
    out: budget.OutOfBudget, small: Learner, large: Learner, settings: CapacitySettings, judged: Callable
) -> Verdict:
    """What the check measured before its time ran out, and what it would still need: the steps to `steps` (more
    if the larger is behind then), in seconds and plain steps at the pace measured (the larger's: at least the
    smaller's)."""
    shared = min(len(small.losses), len(large.losses))
    so_far = judged(small.losses[:shared], large.losses[:shared]).message if shared >= 2 else "nothing compared yet"
    target = max(settings.steps, len(small.losses), len(large.losses))
    more = [max(target - len(s.losses), 0) for s in (small, large)]
    need_s = more[0] * small.pace() + more[1] * (large.pace() or small.pace())
    cost = f", at least {need_s:.1f} s ({need_s / out.allowance.step_s:.0f} plain training steps)" if need_s else ""
    return passed(
        GATE,
        None,
        f"{target} steps of each model",
        f"inconclusive: out of budget: capacity {out}; after {len(small.losses)} steps of the smaller model and "
        f"{len(large.losses)} of the larger, {so_far}. It would need at least {more[0]} more steps of the smaller "
        f"and {more[1]} of the larger{cost}. {out.allowance.fix or 'Raise gates.budget_steps.'} Or lower "
        f"gates.capacity.steps <gates.capacity.steps={settings.steps}>",
        TIP,
        inconclusive="budget",
        measured_steps=[len(small.losses), len(large.losses)],
        needed_steps=more,
        needed_s=round(need_s, 3),
    )


def inverted(wider: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides that narrow the model by the factor `wider` widens it: a key at `v` widened to `w` becomes
    v*v/w, rounded when `v` is an integer. Raises ValueError naming the key when no narrower value can be said."""
    narrowed = {}
    for key, w in wider.items():
        v = current.get(key)
        if not _number(v) or not _number(w) or w <= 0:
            raise ValueError(f"{key}: {w!r} over the model's {v!r} is no numeric widening to invert")
        value = v * v / w
        narrowed[key] = round(value) if isinstance(v, int) else value
        if narrowed[key] <= 0:
            raise ValueError(f"{key}: {v}*{v}/{w} = {value:.3g} rounds to {narrowed[key]}, too narrow to build")
    return narrowed


def not_widening(wider: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The keys `wider` sets to a number no larger than the model's: {key: (model's value, `wider`'s)}."""
    return {
        k: (current.get(k), w) for k, w in wider.items() if _number(w) and _number(current.get(k)) and w <= current[k]
    }


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def more_unfrozen(model: nn.Module, globs: list[str]) -> tuple[nn.Module, list[str]]:
    """A copy of `model` with its frozen parameters that match `globs` trainable, and their names."""
    larger = copy.deepcopy(model)
    opened = [n for n, p in larger.named_parameters() if not p.requires_grad and _matches(n, globs)]
    for name, param in larger.named_parameters():
        if name in opened:
            param.requires_grad_(True)
    return larger, opened


def _matches(name: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)


def judge(
    base: Sequence[float], wider: Sequence[float], what: str, settings: CapacitySettings, *, narrower: bool = False
) -> Verdict:
    """Compare the final `window` of two per-step training-loss curves taken on the same batches: `base` the
    smaller model's, `wider` the larger's (`narrower`: the smaller is a narrower model, the larger the run's).

    Pairing step by step cancels the batch-to-batch noise; the verdict allows `z` standard errors of
    the differences plus `rtol` of the smaller model's own final loss.
    """
    width, a, b, mean, se = _paired(base, wider, settings.window)
    base_end, wide_end = sum(a) / len(a), sum(b) / len(b)
    allowed = settings.z * se + settings.rtol * abs(base_end)
    larger, smaller = (
        ("the model", f"a narrower model ({what})") if narrower else (f"the wider model ({what})", "the model")
    )
    message = (
        f"over the last {width} of {min(len(base), len(wider))} steps, training loss {wide_end:.4f} for {larger} "
        f"vs {base_end:.4f} for {smaller} (difference {mean:+.4f}, noise {allowed:.4f})"
    )
    margin = relative_margin(mean, allowed) if allowed > 0 else None
    if math.isfinite(mean) and mean <= allowed:
        return passed(GATE, round(mean, 4), f"<= {allowed:.4f}", message, TIP, margin=margin, base=a, wider=b)
    return failed(
        GATE,
        round(mean, 4) if math.isfinite(mean) else mean,
        f"<= {allowed:.4f}",
        f"{message}: more capacity made the training loss worse. Likely causes: weights initialised "
        "without scaling by 1/sqrt(fan_in), a learning rate too high for the wider model, a width argument "
        f"that is ignored or shrinks another layer, a bottleneck elsewhere; for more unfrozen layers, a learning "
        f"rate that destroys their pretrained features. {_knobs(settings, narrower)}",
        TIP,
        margin=margin,
        base=a,
        wider=b,
    )


def _paired(base: Sequence[float], wider: Sequence[float], window: float) -> tuple[int, list, list, float, float]:
    """(width, the two final windows, the mean paired difference wider - base, its standard error)."""
    width = max(2, int(min(len(base), len(wider)) * window))
    a, b = list(base)[-width:], list(wider)[-width:]
    diffs = [y - x for x, y in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / max(len(diffs) - 1, 1))
    return width, a, b, mean, sd / math.sqrt(len(diffs))


def _knobs(settings: CapacitySettings, narrower: bool) -> str:
    knob = (
        f"gates.capacity.unfreeze={settings.unfreeze}"
        if settings.unfreeze
        else f"gates.capacity.wider={settings.wider}"
    )
    turned = ", gates.capacity.direction=narrower" if narrower else ""
    return f"<{knob}{turned}, gates.capacity.max_steps={settings.max_steps}>"


GATE = Gate(
    name="capacity",
    stage="capacity",
    budget_share=0.35,
    settings=CapacitySettings,
    tip=TIP,
    what="a wider model reaches a training loss no higher than the model's, within noise",
    checks=(wider_no_worse,),
    applies=("wider",),
)
