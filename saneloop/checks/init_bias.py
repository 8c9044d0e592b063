"""Gate `init_bias`: the final bias was set from the training targets and shows in the prediction."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "tip 5: init well (final bias from the data)"


@dataclass
class Settings(GateSettings):
    # Largest gap allowed between the mean prediction at init and the target prior
    # (total variation for classes); what the random weights add stays well below it.
    max_prior_gap: float = 0.1
    # A prior this close to uniform needs no bias (e.g. a head without bias on balanced classes).
    uniform_tolerance: float = 0.05


def bias_from_data(head: Optional[str], what_was_set: str, prior_gap: float, gap_meaning: str,
                   uniform_gap: float, settings: Settings) -> Verdict:
    """`prior_gap`: gap of the model's mean prediction from the prior after the bias was set.
    `uniform_gap`: gap of a zero-bias prediction from the prior (how much the bias matters)."""
    if head is None:
        if uniform_gap <= settings.uniform_tolerance:
            return passed("init_bias", None, "a final bias", "the model has no final bias to set; the target "
                          f"prior is close to what a zero bias predicts (gap {uniform_gap:.3f}), so none is needed", TIP)
        return failed("init_bias", None, "a final bias", "the model has no final bias to set, and the target prior "
                      f"is far from what a zero bias predicts (gap {uniform_gap:.3f} > {settings.uniform_tolerance}). "
                      "Add a bias to the last layer (e.g. nn.Linear(..., bias=True)) or name it with model_head.", TIP)
    if prior_gap > settings.max_prior_gap:
        return failed("init_bias", round(prior_gap, 4), f"<= {settings.max_prior_gap}",
                      f"set {head}.bias to the {what_was_set}, but the model's mean prediction at init is still "
                      f"{prior_gap:.3f} away from the prior ({gap_meaning}). Likely causes: layers after the head "
                      "(a scale, an activation), a head that is not the last layer (set model_head), or weights "
                      f"initialised far too large <gates.init_bias.max_prior_gap={settings.max_prior_gap}>.", TIP)
    return passed("init_bias", round(prior_gap, 4), f"<= {settings.max_prior_gap}",
                  f"set {head}.bias to the {what_was_set}; mean prediction is {prior_gap:.3f} from the prior", TIP)
