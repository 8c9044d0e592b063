"""Gate `init_bias`: the final bias was set from the training targets and reaches the prediction.

The check is structural: with the head's weights at zero, the model's output is its final bias,
so its mean prediction must be the prior. What the random weights add on top (a correct residual
stack or BatchNorm model moves the mean prediction by 0.1 or more at PyTorch's default init) is
reported, and judged by `init_loss` against the loss the task derives.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "tip 5: init well (final bias from the data)"


@dataclass
class Settings(GateSettings):
    # Largest gap allowed between the prior and the mean prediction of the model with its head's
    # weights at zero (total variation for classes): 0 when the bias reaches the output as set.
    max_prior_gap: float = 0.1
    # A prior this close to uniform needs no bias (e.g. a head without bias on balanced classes).
    uniform_tolerance: float = 0.05


def bias_from_data(head: Optional[str], what_was_set: str, prior_gap: float, gap_meaning: str,
                   uniform_gap: float, settings: Settings, with_weights_gap: Optional[float] = None) -> Verdict:
    """`prior_gap`: gap from the prior of the mean prediction with the head's weights at zero, the
    bias set. `uniform_gap`: gap of a zero-bias prediction from the prior (how much the bias matters).
    `with_weights_gap`: the same gap with the random weights in place (reported, not judged)."""
    weights = "" if with_weights_gap is None else (
        f"; with the random weights in place it is {with_weights_gap:.3f} (judged by init_loss)")
    if head is None:
        if uniform_gap <= settings.uniform_tolerance:
            return passed("init_bias", None, "a final bias", "the model has no final bias to set; the target "
                          f"prior is close to what a zero bias predicts (gap {uniform_gap:.3f}), so none is needed", TIP)
        return failed("init_bias", None, "a final bias", "the model has no final bias to set, and the target prior "
                      f"is far from what a zero bias predicts (gap {uniform_gap:.3f} > {settings.uniform_tolerance}). "
                      "Add a bias to the last layer (e.g. nn.Linear(..., bias=True)) or name it with model_head.", TIP)
    if prior_gap > settings.max_prior_gap:
        return failed("init_bias", round(prior_gap, 4), f"<= {settings.max_prior_gap}",
                      f"set {head}.bias to the {what_was_set}, but with {head}'s weights at zero the model's mean "
                      f"prediction is still {prior_gap:.3f} away from the prior ({gap_meaning}): the bias does not "
                      "reach the output as set. Likely causes: layers after the head (a scale, a softmax or "
                      "sigmoid before a loss that expects logits), or a head that is not the last layer (set "
                      f"model_head) <gates.init_bias.max_prior_gap={settings.max_prior_gap}>{weights}.", TIP)
    return passed("init_bias", round(prior_gap, 4), f"<= {settings.max_prior_gap}",
                  f"set {head}.bias to the {what_was_set}; with {head}'s weights at zero the mean prediction is "
                  f"{prior_gap:.3f} from the prior{weights}", TIP)
