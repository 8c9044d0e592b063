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


def above_baselines(
    metric: str,
    value: float,
    baselines: Mapping[str, float],
    se: Optional[float] = None,
    higher_is_better: bool = True,
    min_se: float = 2.0,
) -> Verdict:
    """Pass when `value` beats every baseline except the human one by `min_se` standard errors."""
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
