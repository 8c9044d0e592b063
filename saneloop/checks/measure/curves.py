"""What a loss curve did, in words a failure message can use: diverged, flat, still falling, oscillating,
or fell and then flattened; and the likely causes that fit that shape.

The shape is read from per-step training losses: the mean of the last quarter against the quarter
before it (is it still falling?) and against the first steps (did it fall at all?), each judged by
the standard error of those means and by `min_change`, a fraction of the loss (scale-free).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

DIVERGED, FLAT, FALLING, OSCILLATING, PLATEAUED = "diverged", "flat", "still falling", "oscillating", "plateaued"
BLOWUP = 3.0  # a mean loss this many times its start has diverged


@dataclass(frozen=True)
class Shape:
    kind: str
    start: float  # mean loss of the first steps
    end: float  # mean loss of the last quarter
    text: str  # e.g. "fell 2.30 -> 0.41, then flattened"


def _stats(xs: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean."""
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return mean, 0.0
    var = sum((x - mean) ** 2 for x in xs) / (n - 1)
    return mean, math.sqrt(var / n)


def _drop(a: Sequence[float], b: Sequence[float], z: float, min_change: float) -> bool:
    """Is the mean of `b` clearly below that of `a`: by `z` standard errors and by `min_change` of it?"""
    (ma, sa), (mb, sb) = _stats(a), _stats(b)
    return ma - mb > z * math.hypot(sa, sb) and ma - mb > min_change * abs(ma)


def shape(losses: Sequence[float], z: float = 2.0, min_change: float = 0.01) -> Shape:
    """The shape of a per-step loss curve (at least 2 steps)."""
    values = [float(x) for x in losses]
    bad = next((i for i, x in enumerate(values) if not math.isfinite(x)), None)
    if bad is not None:
        return Shape(DIVERGED, values[0], math.nan, f"became {values[bad]} at step {bad}")
    n = len(values)
    quarter = max(1, n // 4)
    first, previous, last = values[: max(1, n // 10)], values[-2 * quarter : -quarter], values[-quarter:]
    start, end = _stats(first)[0], _stats(last)[0]
    moved = f"{start:.4g} -> {end:.4g} over {n} steps"
    if end > BLOWUP * max(start, 1e-12) and end > start:
        return Shape(DIVERGED, start, end, f"rose {moved}")
    falling = len(previous) > 0 and _drop(previous, last, z, min_change)
    fell = _drop(first, last, z, min_change)
    mean, se = _stats(last)
    spread = se * math.sqrt(len(last)) / max(abs(mean), 1e-12)
    if falling:
        return Shape(FALLING, start, end, f"still falling: {moved}")
    if spread > 0.5 and not fell:
        return Shape(OSCILLATING, start, end, f"swung around {mean:.4g} (step-to-step spread {spread:.0%}): {moved}")
    if not fell:
        return Shape(FLAT, start, end, f"stayed flat: {moved}")
    return Shape(PLATEAUED, start, end, f"fell, then flattened: {moved}")


def causes(kind: str, lr: Optional[float] = None, plateau: str = "") -> str:
    """The likely causes of a curve of this shape; `plateau` names the gate's own causes of a curve that
    fell and then flattened short of its goal."""
    at = f" (optim.lr={lr:g})" if lr is not None else ""
    return {
        DIVERGED: f"a learning rate too high{at}, a loss or model that overflows (log of 0, exp of large "
        "values, division by a tiny standard deviation), inputs with extreme values",
        OSCILLATING: f"a learning rate too high{at}, momentum too high, batches too small for the learning rate",
        FLAT: f"a learning rate zero or far too low{at}, gradients zeroed between backward and step, an "
        "optimizer that does not hold the model's parameters, frozen or detached parameters",
        FALLING: f"a learning rate too low for this budget{at}, or too small a budget",
        PLATEAUED: plateau or "a model that cannot express the answer",
    }[kind]


def learning_rate(optimizer: object) -> Optional[float]:
    """The first parameter group's learning rate, for the messages."""
    groups = getattr(optimizer, "param_groups", None) or [{}]
    lr = groups[0].get("lr")
    return float(lr) if isinstance(lr, (int, float)) else None


def running_min(losses: Sequence[float]) -> list[float]:
    """The best loss so far at each step: a noisy curve's progress, not its step-to-step noise."""
    out, best = [], math.inf
    for x in losses:
        best = min(best, x)
        out.append(best)
    return out


def slowing(losses: Sequence[float]) -> bool:
    """The best loss fell less over the last quarter of the steps than over the quarter before."""
    best, at = running_min(losses), len(losses) - 1
    half, three_quarters, now = best[at // 2], best[(3 * at) // 4], best[at]
    return three_quarters - now < half - three_quarters


def steps_to(losses: Sequence[float], goal: float) -> float:
    """At the best loss's rate over the last quarter of the steps, how many more steps to `goal` (inf: none)."""
    best, at = running_min(losses), len(losses) - 1
    rate = (best[(3 * at) // 4] - best[at]) / max(at - (3 * at) // 4, 1)
    return max(best[at] - goal, 0.0) / rate if rate > 0 else math.inf


def blew_up(losses: Sequence[float], start: float, smooth: int = 5, factor: float = 10.0) -> bool:
    """The training loss became NaN/Inf, or its running mean over `smooth` steps rose to `factor` times the
    held-out loss before any step (`start`): a spike, not the batch-to-batch noise of rare classes."""
    if not all(math.isfinite(x) for x in losses):
        return True
    window = [sum(losses[i : i + smooth]) / len(losses[i : i + smooth]) for i in range(0, len(losses), smooth)]
    return bool(window) and max(window) > factor * abs(start)
