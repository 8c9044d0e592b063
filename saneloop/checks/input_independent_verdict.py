"""What input_independent says: its pass and its failure, with what the curves did and the causes that fit
(a diverged copy is never told "a learning rate far too low")."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

from . import curves
from .paired import Lead
from .verdict import Verdict, failed, passed

if TYPE_CHECKING:
    from .input_independent import InputIndependentSettings, _Pair

TIP = "tip 7: input-independent baseline"
GATE = "input_independent"


def _margin(ahead: Lead, pair: _Pair, settings: InputIndependentSettings) -> float:
    """How far from failing: the lead over `min_gain` (as a fraction of it), or the budget left."""
    gain = ahead.gain / settings.min_gain - 1 if settings.min_gain > 0 else math.inf
    return min(gain, 1 - pair.steps / settings.max_steps)


def _shown(settings: InputIndependentSettings) -> str:
    return f"lead >= {settings.z:g} se and >= {settings.min_gain:.0%}"


def _ratio(ahead: Lead) -> float:
    """Real-input loss / zeroed-input loss on the held-out examples."""
    real = ahead.base - ahead.mean
    return round(real / ahead.base, 4) if ahead.base and math.isfinite(real) else math.inf


def pass_(ahead: Lead, own: Lead, pair: _Pair, settings: InputIndependentSettings) -> Verdict:
    real = ahead.base - ahead.mean
    return passed(
        GATE,
        _ratio(ahead),
        _shown(settings),
        f"after {pair.steps} steps, held-out loss {real:.4g} on real inputs vs {ahead.base:.4g} on zeroed inputs "
        f"over {ahead.count} examples: the real-input copy leads by {ahead.shown()}; and by {own.gain:+.1%} "
        "over its own outputs scored against other examples' targets",
        TIP,
        margin=min(_margin(ahead, pair, settings), _margin(own, pair, settings)),
        real=real,
        zeroed=ahead.base,
        z=ahead.z,
        gain=ahead.gain,
        steps=pair.steps,
    )


_NO_SIGNAL = (
    "labels shuffled apart from the inputs (a permutation applied to one and not the other), test labels "
    "misaligned with test inputs (another order, a join off by one), inputs overwritten or constant, a model "
    "that ignores its input or reads only a channel that never changes"
)


def _what_happened(kind: str, curve: Optional[curves.Shape], pair: _Pair, settings: InputIndependentSettings):
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


def fail(
    ahead: Lead, pair: _Pair, settings: InputIndependentSettings, kind: str, curve: Optional[curves.Shape]
) -> Verdict:
    real = ahead.base - ahead.mean
    what, why = _what_happened(kind, curve, pair, settings)
    key = (
        f"<gates.input_independent.max_steps={settings.max_steps}, gates.input_independent.z={settings.z}, "
        f"gates.input_independent.min_gain={settings.min_gain}>"
    )
    return failed(
        GATE,
        _ratio(ahead),
        _shown(settings),
        f"after {pair.steps} steps, the model fed real inputs reached held-out loss {real:.4g}, the same model fed "
        f"zeros {ahead.base:.4g}, over {ahead.count} examples: lead {ahead.shown()}"
        f"{'' if kind == curves.DIVERGED else ', so it learns no more from the inputs than from their absence'}. "
        f"{what[0].upper()}{what[1:]}. Likely causes: {why}. {key}",
        TIP,
        margin=_margin(ahead, pair, settings),
        real=real,
        zeroed=ahead.base,
        z=ahead.z,
        gain=ahead.gain,
        steps=pair.steps,
        curve=kind if curve is None else curve.kind,
    )
