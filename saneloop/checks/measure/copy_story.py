"""What `input_independent`'s copies did, in words, and the likely causes that fit it: the body of a failure."""

from __future__ import annotations

import math
from typing import Any, Optional

from . import curves
from .copy_pair import CopyPair

_NO_SIGNAL = (
    "labels shuffled apart from the inputs (a permutation applied to one and not the other), test labels "
    "misaligned with test inputs (another order, a join off by one), inputs overwritten or constant, a model "
    "that ignores its input or reads only a channel that never changes"
)


def what_happened(kind: str, curve: Optional[curves.Shape], pair: CopyPair, settings: Any) -> tuple[str, str]:
    """(what the curves did, the likely causes that fit it)."""
    lr = curves.learning_rate(pair.opt_real)
    trained = f"the real-input copy's training loss {curve.text}" if curve is not None else "no step was taken"
    if kind == curves.DIVERGED:
        peak = max(range(len(pair.losses)), key=lambda i: pair.losses[i] if math.isfinite(pair.losses[i]) else math.inf)
        return (
            f"the real-input copy diverged: its training loss went from {pair.losses[0]:.4g} to "
            f"{pair.losses[peak]:.4g} at step {peak + 1}, and its held-out loss is worse than before any step",
            curves.causes(curves.DIVERGED, lr),
        )
    if kind == curves.FALLING:
        return (
            f"the real-input copy still improved on held-out data when the budget of {settings.max_steps} steps ran "
            f"out; {trained}",
            f"{curves.causes(curves.FALLING, lr)}, or a signal too weak to show within the budget",
        )
    stalled = f"neither copy's held-out loss improved over the last {pair.steps - pair.steps // 2} steps"
    if curve is None or curve.kind == curves.FLAT:
        return f"{stalled}, and {trained}: nothing learns", f"{curves.causes(curves.FLAT, lr)}; {_NO_SIGNAL}"
    if curve.kind == curves.OSCILLATING:
        return f"{stalled}; {trained}", curves.causes(curves.OSCILLATING, lr)
    return (
        f"{stalled}, while {trained}: what it learns from the training inputs does not predict held-out targets",
        _NO_SIGNAL,
    )
