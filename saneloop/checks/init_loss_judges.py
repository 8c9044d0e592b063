"""Two verdicts of `init_loss` beside its main one.

- A head whose random weights add many times what a default head adds is over-scaled (issue 22).
- A model whose final layer is pretrained: its loss at init must be clearly below the prior's entropy (what
  it learned before is what it is for). At the prior's, it knows nothing about this data (weights not loaded,
  or not used); far above, it is confidently wrong about it (labels in another order, another vocabulary,
  other preprocessing). Issue 20: a continued-training classifier started at 0.26 against 2.30 and was halted
  as "targets leaked"; a GPT-2 given text in another vocabulary started at the prior's and passed everything.
"""

from __future__ import annotations

import math
from typing import Any

from .base.verdict import Verdict, failed, passed

INIT_TIP = "tip 4: verify loss at init"
TIP = "tip 4: verify loss at init (a pretrained model starts below the prior's loss)"


def judge_pretrained(
    gate: Any, measured: float, se: float, prior: float, derivation: str, settings: Any, source: str
) -> Verdict:
    """`measured` (the loss at init, `se` its standard error) against `prior` (the task's loss of the target
    prior, e.g. its entropy): pass when at least `settings.pretrained_gain` of it below, beyond `settings.z`
    standard errors."""
    bar = prior * (1 - settings.pretrained_gain) - settings.z * se
    shown = f"< {bar:.4f}"
    key = f"<gates.init_loss.pretrained_gain={settings.pretrained_gain}, model_pretrained>"
    margin = (bar - measured) / abs(bar) if math.isfinite(measured) and bar else None
    head = f"loss at init {measured:.4f} against {prior:.4f} ({derivation}) for a model pretrained ({source})"
    if math.isfinite(measured) and measured < bar:
        return passed(
            gate, round(measured, 4), shown, f"{head}: clearly below the prior's, as it should be", TIP, margin=margin
        )
    return failed(
        gate,
        round(measured, 4) if math.isfinite(measured) else measured,
        shown,
        _why(head, measured, prior, se, settings) + f" {key}",
        TIP,
        margin=margin,
    )


def _why(head: str, measured: float, prior: float, se: float, settings: Any) -> str:
    if not math.isfinite(measured):
        return (
            f"{head}: not finite. Likely causes: inputs far outside what the model was pretrained on, a dtype overflow."
        )
    near = settings.rtol * abs(prior) + settings.z * se
    if measured <= prior + near:
        return (
            f"{head}: at the prior's, as if it had never been trained, where a pretrained model starts clearly below "
            "it. Likely causes: the pretrained weights were not loaded or not used (init_from's missing keys, "
            "load_state_dict(strict=False), the model rebuilt or re-initialised after loading), a head that is "
            "new for this task (declare it: init_from.new=[head.*], or model_pretrained=false), another tokenizer "
            "or vocabulary than pretraining's."
        )
    return (
        f"{head}: {measured - prior:+.4g} above the prior's: the model is confidently wrong about this data. Likely "
        "causes: a label order or id2label that does not match the data's classes, another tokenizer or vocabulary "
        "than pretraining's (token ids that mean other things), inputs preprocessed differently from pretraining "
        "(normalisation, scale, resizing)."
    )


def over_scaled(
    gate: Any, measured: float, added: float, default: float, expected: float, derivation: str, settings, note: str
) -> Verdict:
    """The random head weights add many times what a default-initialised head adds on the same features."""
    allowed = settings.head_ratio * default
    return failed(
        gate,
        round(measured, 4),
        f"adds <= {settings.head_ratio:g} x {default:.3g}",
        f"loss at init {measured:.4f} vs {expected:.4f} ({derivation}){note}: the head's random weights add "
        f"{added / default:.0f}x what PyTorch's default init of the same head adds, more than "
        f"{settings.head_ratio:g}x. Likely causes: final-layer weights initialised far too large (a custom init "
        f"with a large std, a scale multiplied in), features of a huge scale <gates.init_loss.head_ratio="
        f"{settings.head_ratio}>",
        INIT_TIP,
        margin=(allowed - added) / allowed,
    )
