"""Gate `ceiling_explained`: a held-out metric at its ceiling is searched for what explains it.

Test accuracy 1.0 (or R^2 above 0.99) is what a leak makes, and also what an easy task makes. When the
headline ends there, the leak probes run again on the training and test samples, wider and with a
lower bar than setup's (a result this good needs less proof): one feature alone (`target_leak`'s
scores), one token id wherever it sits, and pairs among more features (`hidden_leak`'s). A finding
halts, named; nothing found passes with a note (a task can be easy). Off the ceiling it has nothing
to explain. Cost: setup's probes once more, pairs over `top_k` features (`top_k (top_k - 1) / 2` fits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional, Union

from ..data.sample import SplitSample
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed
from .hidden_leak import HiddenLeakSettings, judged, probes
from .target_leak import TargetLeakSettings, leaking_features

TIP = "tip 7's baselines: a result too good to be true usually is; find out what explains it"
CEILINGS = {"accuracy": 1.0, "auroc": 1.0, "r2": 1.0}  # headline metrics with a ceiling (higher is better)


@dataclass
class CeilingExplainedSettings(GateSettings):
    # The headline at or above this share of its ceiling is "at the ceiling" (accuracy 1.0 on 449 digits
    # is 0 errors; 0.999 allows none on under 1000 items). R^2 has its own bar below.
    at_ceiling: float = bounded(0.999, low=0, high=1, above=True)
    at_ceiling_r2: float = bounded(0.99, low=0, high=1, above=True)
    # At the ceiling, a class-label probe (one feature, one token) reaching this share of the gain over the
    # input-free baseline explains it (setup halts at 0.95; clean: wine 0.69, breast cancer 0.78).
    max_score: float = bounded(0.9, low=0, high=1, above=True)
    # R^2 of one feature or a pair that explains a regression at its ceiling: a fixed rule, as at setup.
    max_r2: float = bounded(0.9999, low=0, high=1, above=True)
    # Features paired (setup pairs 12): top_k (top_k - 1) / 2 fits of n x 3.
    top_k: int = bounded(32, low=2, high=128)


Samples = Union[tuple[SplitSample, SplitSample], Callable[[], tuple[SplitSample, SplitSample]]]


def ceiling_search(
    headline: str, value: Optional[float], samples: Samples, settings: CeilingExplainedSettings
) -> Verdict:
    """`value`: the test headline `headline`; at its ceiling, what explains it is searched for in `samples`
    (train, test), or in what `samples()` reads: a run reads them only at the ceiling."""
    bar = settings.at_ceiling_r2 if headline == "r2" else settings.at_ceiling * CEILINGS.get(headline, math.nan)
    if value is None or headline not in CEILINGS or not math.isfinite(value) or value < bar:
        shown = "n/a" if value is None else f"{value:.4g}"
        return passed(GATE, shown, f"< {bar:.4g}", f"test {headline} {shown} is not at its ceiling: nothing to explain")
    train, test = samples() if callable(samples) else samples
    single = leaking_features(train, test, TargetLeakSettings(max_score=settings.max_score, max_r2=settings.max_r2))
    wider = HiddenLeakSettings(max_score=settings.max_score, max_r2=settings.max_r2, top_k=settings.top_k)
    found, bars, what = probes(train, test, wider)
    spread = judged(GATE.name, found, bars, what, TIP) if found is not None else None
    at = f"test {headline} {value:.4g} is at its ceiling"
    if not single.passed:
        return failed(GATE, single.value, single.expected, f"{at}, and one feature explains it: {single.message}", TIP)
    if spread is not None and not spread.passed:
        return failed(GATE, spread.value, spread.expected, f"{at}, and this explains it: {spread.message}", TIP)
    seen = "; ".join(v.message for v in (single, spread) if v is not None and v.status == "passed")
    return passed(
        GATE,
        round(value, 6),
        f">= {bar:.4g}: searched",
        f"{at}; searched for what explains it and found nothing over the bars ({seen}). A task can be easy; "
        "if it should not be, look for a leak no probe here reads (an ID, a file order, a spread-out code).",
        TIP,
    )


GATE = Gate(
    name="ceiling_explained",
    stage="evaluate",
    settings=CeilingExplainedSettings,
    tip=TIP,
    what="a test metric at its ceiling (accuracy 1.0, R^2 > 0.99) is not explained by a feature, token or pair",
    checks=(ceiling_search,),
    after=("beats_baselines",),
)
