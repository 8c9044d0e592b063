"""Paired comparisons of per-example losses: a mean difference and its standard error.

Two models scored on the same held-out examples (or one model at two moments) differ example by
example; pairing cancels how hard each example is, so a small real difference stands out of the
noise. Every threshold here is in standard errors or in fractions of a loss: scale-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import torch

from ...data.batch import Batch
from .fitting import each

# Held-out examples a comparison needs: below 30 a standard error is itself too uncertain for a z threshold
# (a t distribution with fewer than 29 degrees of freedom puts over twice the normal's probability beyond 3).
MIN_HELD_OUT = 30


def too_few(count: int, why: str) -> str:
    """`why`, led by "too few held-out examples" when `count` is below MIN_HELD_OUT."""
    if count >= MIN_HELD_OUT:
        return why
    few = f"{count} held-out example{'' if count == 1 else 's'}"
    return f"too few held-out examples ({few}: the comparison needs at least {MIN_HELD_OUT}); else {why}"


def conclude(ahead: Lead, settings: Any, diverged: bool, lr: Optional[float], why: str) -> tuple[str, str]:
    """(what a failed comparison concludes, its likely causes): never a conclusion its own figures deny. A clear
    lead (`settings.z`, `settings.min_gain`) that still failed learns from the inputs, but got worse on held-out
    data than before any step (issue 20: a pretrained GPT-2 at a learning rate for training from scratch), or
    leads by its overall rate or scale only."""
    if diverged:
        return "", why
    if not ahead.clear(settings.z, settings.min_gain):
        return ", so it learns no more from the inputs than from their absence", why
    rate = "" if lr is None else f" (optim.lr={lr:g})"
    return (
        ": a clear lead, yet not a pass: the real-input copy's held-out loss is worse than before any step, or "
        "its lead is not over its own outputs scored against other examples' targets (an overall rate or scale)",
        f"a learning rate too high for this model{rate}; for a pretrained model, one that destroys what "
        "pretraining learned (gate pretrained_lr); or a lead from a better overall rate or scale, not from each input",
    )


@dataclass(frozen=True)
class Lead:
    """How far `better` is ahead of `worse`: mean(worse - better) over the examples, its standard error,
    and the mean of `worse` (what the lead is a fraction of)."""

    mean: float
    se: float
    base: float
    count: int

    @property
    def z(self) -> float:
        if self.se > 0:
            return self.mean / self.se
        return 0.0 if self.mean == 0 else math.copysign(math.inf, self.mean)

    @property
    def gain(self) -> float:
        """The lead as a fraction of the worse model's loss."""
        return self.mean / abs(self.base) if self.base else (0.0 if self.mean == 0 else math.inf)

    def clear(self, z: float, min_gain: float) -> bool:
        """Ahead by `z` standard errors and by `min_gain` of the loss: a difference, not noise or a hair."""
        return math.isfinite(self.mean) and self.z >= z and self.gain >= min_gain

    def unconfirmable(self, z: float) -> float:
        """The least lead, as a fraction of the worse model's loss, that `z` standard errors could confirm on
        these examples: above a sizeable fraction, the comparison has no power (too few held-out examples)."""
        return z * self.se / abs(self.base) if self.base else math.inf

    def shown(self) -> str:
        return f"{self.mean:+.4g} ± {self.se:.2g} ({self.z:.1f} standard errors, {self.gain:+.1%} of {self.base:.4g})"


def lead(worse: torch.Tensor, better: torch.Tensor) -> Lead:
    """The paired lead of `better` over `worse` (per-example losses of the same examples)."""
    diff = (worse.double() - better.double()).reshape(-1)
    n = len(diff)
    mean = float(diff.mean()) if n else math.nan
    se = float(diff.std() / math.sqrt(n)) if n > 1 else math.inf
    return Lead(mean, se if math.isfinite(mean) else math.nan, float(worse.double().mean()) if n else math.nan, n)


class HeldOut:
    """The first examples of a held-out source, as batches, read as far as they are needed."""

    def __init__(self, source: Iterable[Any], device: Optional[torch.device] = None) -> None:
        self.source, self.device = each(source), device
        self.batches: list[Batch] = []
        self.count, self.pending = 0, None

    def exhausted(self) -> bool:
        """Every example of the source has been read: no more can be scored (reads one more if there is)."""
        return not self.grow(self.count + 1)

    def grow(self, count: int) -> bool:
        """Read on to `count` examples (the last batch cut to size); False when none were added."""
        before = self.count
        while self.count < count:
            batch = self.pending if self.pending is not None else next(self.source, None)
            if batch is None:
                break
            take, self.pending = batch.select(slice(0, count - self.count)), None
            if len(take) < len(batch):
                self.pending = batch.select(slice(len(take), len(batch)))
            self.batches.append(take if self.device is None else take.to(self.device))
            self.count += len(take)
        return self.count > before
