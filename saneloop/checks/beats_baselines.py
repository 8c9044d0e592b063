"""Gate `beats_baselines`: the final test metric beats the task's dumb baselines (chance, majority),
and the report says where it stands against a human figure, when the config gives one.

A model that does not beat "always predict the most frequent class" has learned nothing useful,
however low its loss; the human figure says how much is left to gain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed

TIP = "tip 6: human and dumb baselines"
HUMAN = "human"  # reported against, never required to be beaten


@dataclass
class BeatsBaselinesSettings(GateSettings):
    # The metric must beat each baseline by this many standard errors (when the task gives one):
    # a tie within noise is not a win.
    min_se: float = bounded(2.0, low=0)
    # No power: a metric bounded by 1 (accuracy, R^2, AUROC; or an error bounded by 0) whose min_se standard
    # errors span more than this fraction of the room between the best baseline and that bound (99 diabetes
    # rows: R^2 0.24 +- 0.12, a bar of 0.25). Ahead of every baseline by 1 standard error, it is inconclusive.
    power: float = bounded(0.2, low=0)


def above_baselines(
    metric: str,
    value: float,
    baselines: Mapping[str, float],
    se: Optional[float] = None,
    higher_is_better: bool = True,
    min_se: float = 2.0,
    power: float = 0.0,
) -> Verdict:
    """Pass when `value` beats every baseline except the human one by `min_se` standard errors; or, on a
    held-out set too small to have power (`power` > 0, settings), when it leads each by 1 standard error."""
    sign = 1.0 if higher_is_better else -1.0
    margin = min_se * (se if se is not None and math.isfinite(se) else 0.0)
    required = {k: v for k, v in baselines.items() if k != HUMAN}
    lost = [k for k, v in required.items() if not sign * (value - v) > margin]
    shown = f"{metric} {value:.4f}" + (f" ± {se:.4f}" if se is not None and math.isfinite(se) else "")
    against = ", ".join(f"{k} {v:.4f}" for k, v in required.items()) or "no baselines"
    human = _human(value, baselines.get(HUMAN), sign, se)
    best = max(required.values(), key=lambda v: sign * v) if required else None
    gap = round(sign * (value - best), 4) if best is not None else None
    expected = f"> {best:.4f} + {min_se} se" if best is not None else None
    # How far past the bar the metric is, as a fraction of the bar (min_se standard errors).
    bar = margin if margin > 0 else None
    to_bar = (gap - bar) / bar if gap is not None and bar else None
    if not lost:
        return passed(
            GATE,
            gap,
            expected,
            f"{shown} beats {against} by more than {min_se} standard errors{human}",
            TIP,
            margin=to_bar,
        )
    room = _room(value, required.values(), higher_is_better)
    if power > 0 and se and margin > power * room and all(sign * (value - v) > se for v in required.values()):
        return _inconclusive(gap, expected, f"{shown} leads {against}", min_se, margin / room, power, human)
    return failed(
        GATE,
        gap,
        expected,
        f"{shown} does not beat {', '.join(lost)} ({against}) by {min_se} standard "
        f"errors{human}: the model is no better than a rule that ignores the inputs. Likely causes: "
        "test labels misaligned with test inputs, a model that collapsed to one class, training that "
        "stopped early, train and test data from different distributions. "
        f"<gates.beats_baselines.min_se={min_se}>",
        TIP,
        margin=to_bar,
    )


def _inconclusive(gap, expected, leads: str, min_se: float, bar: float, power: float, human: str) -> Verdict:
    """Ahead of every baseline, on a held-out set too small to confirm it: a note, not a halt."""
    return passed(
        GATE,
        gap,
        expected,
        f"inconclusive: {leads} by more than 1 standard error but not {min_se}: the held-out set is too small "
        f"to decide ({min_se} standard errors span {bar:.0%} of the room between the best baseline and a perfect "
        f"score). A note, not a halt; a larger validation set decides <validation.fraction, "
        f"validation.min_items, gates.beats_baselines.power={power}>{human}",
        TIP,
        margin=0.0,
        inconclusive=True,
    )


def _room(value: float, baselines, higher_is_better: bool) -> float:
    """Between the best baseline and a perfect score: 1 for a metric bounded by 1, 0 for an error bounded by 0
    (inf when the metric is not so bounded: a comparison on it never counts as without power)."""
    values = [value, *baselines]
    if higher_is_better and values and max(values) <= 1:
        return 1 - max(values[1:], default=value)
    if not higher_is_better and values and min(values) >= 0:
        return min(values[1:], default=value)
    return math.inf


def _human(value: float, human: Optional[float], sign: float, se: Optional[float]) -> str:
    if human is None:
        return "; no human figure given <baselines.human=...>"
    diff = sign * (value - human)
    noise = 2 * se if se is not None and math.isfinite(se) else 0.0
    where = "level with" if abs(diff) <= noise else ("above" if diff > 0 else "below")
    return f"; {where} the human figure {human:.4f} ({'+' if diff >= 0 else ''}{diff:.4f})"


GATE = Gate(
    name="beats_baselines",
    stage="evaluate",
    settings=BeatsBaselinesSettings,
    tip=TIP,
    what="the headline metric beats chance and majority by 2 standard errors (and is placed against a human figure)",
    checks=(above_baselines,),
    after=("eval_repeatable",),
)
