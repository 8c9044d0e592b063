"""Gate `init_loss`: the loss before any step matches the value the task derives."""
from __future__ import annotations

from dataclasses import dataclass

from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "tip 4: verify loss at init"


@dataclass
class Settings(GateSettings):
    batches: int = 4  # training batches the measured loss is averaged over
    # Allowed relative gap |measured - expected| / expected. Random head weights add a little
    # to the prior's entropy; a mis-scaled init or a summed loss adds far more.
    rtol: float = 0.15


def loss_matches(measured: float, expected: float, derivation: str, settings: Settings) -> Verdict:
    gap = abs(measured - expected) / max(abs(expected), 1e-12)
    shown_expected = f"{expected:.4f} ± {settings.rtol:.0%}"
    if gap <= settings.rtol:
        return passed("init_loss", round(measured, 4), shown_expected,
                      f"loss at init {measured:.4f} vs {expected:.4f} ({derivation}), {gap:.1%} apart", TIP)
    cause = ("Likely causes: final-layer weights initialised far too large, a loss summed instead of averaged "
             "(reduction='sum'), or an output scale.") if measured > expected else (
             "Likely causes: targets leaked into the inputs, a loss that expects log-probabilities given raw "
             "logits (nll_loss), or a loss that can go negative.")
    return failed("init_loss", round(measured, 4), shown_expected,
                  f"loss at init {measured:.4f} is {gap:.0%} away from {expected:.4f} ({derivation}). {cause} "
                  f"<gates.init_loss.rtol={settings.rtol}>", TIP)
