"""Gate `too_good`: the held-out loss after the baselines stage's short run is not near zero.

Within a few epochs of a short run, a model that already predicts held-out data almost perfectly is
more likely reading the answer than learning the task: the target leaked into the inputs (spread
over features, so no single one shows it), test items copied from training, or a trivial shortcut.
The input-free copy's held-out loss (or the prior's, if lower) is what the task allows without the
inputs; a held-out loss below `min_ratio` of it is the alarm ("too good, too fast"). No
deep-learning tool was found that raises it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin, skipped

TIP = "tip 7's baselines: a result too good to be true usually is"


@dataclass
class TooGoodSettings(GateSettings):
    # Held-out loss after input_independent's short run, as a share of the input-free copy's: below
    # this is "near zero". Clean defaults after 100 steps: classify ~0.1, binary ~0.08, regress ~0.5.
    min_ratio: float = bounded(0.003, low=0, high=1)


def too_good_too_fast(
    real: Optional[float], zeroed: Optional[float], prior: float, steps: int, settings: TooGoodSettings
) -> Verdict:
    """`real`, `zeroed`: held-out losses of the copies trained on real and on zeroed inputs for `steps`
    steps; `prior`: the loss of predicting the target prior (the task's input-free optimum). The
    baseline is the lower of the two input-free losses (a zeroed copy may diverge)."""
    finite = [v for v in (zeroed, prior) if v is not None and math.isfinite(v) and v > 0]
    if real is None or not math.isfinite(real) or not finite:
        return skipped(GATE, "no finite held-out losses from input_independent to compare", TIP)
    baseline = min(finite)
    ratio = real / baseline
    shown = f">= {settings.min_ratio}"
    zeroed_shown = "n/a" if zeroed is None else f"{zeroed:.4g}"
    what = (
        f"after {steps} steps, held-out loss {real:.4g} with the inputs, {baseline:.4g} without them (the "
        f"lower of the zeroed copy's {zeroed_shown} and the prior's {prior:.4g}; ratio {ratio:.3g})"
    )
    if ratio >= settings.min_ratio:
        return passed(GATE, round(ratio, 6), shown, what, TIP, margin=relative_margin(ratio, settings.min_ratio, False))
    below = (
        "The loss is below zero, under the floor of a cross-entropy, MSE or BCE: a negative log-likelihood "
        "of raw logits (F.nll_loss without log_softmax), or a loss of the wrong sign. "
        if real < 0
        else ""
    )
    return failed(
        GATE,
        round(ratio, 6),
        shown,
        f"{what}: near zero within {steps} steps, far below what the input-free baseline makes plausible. {below}"
        "Likely causes: the target leaked into the inputs (a label column, an ID or file order that "
        "encodes the class, spread over several features), test items that are copies of training items, "
        "a task that is trivial as posed (the target computed from the inputs by a fixed rule). If the "
        f"task really is this easy, waive it. <gates.too_good.min_ratio={settings.min_ratio}>",
        TIP,
    )


GATE = Gate(
    name="too_good",
    stage="baselines",
    settings=TooGoodSettings,
    tip=TIP,
    what="the held-out loss when input_independent decides is not near zero (too good, too fast)",
    checks=(too_good_too_fast,),
    after=("input_independent",),
)
