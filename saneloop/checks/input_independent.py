"""Gate `input_independent`: a model trained on real inputs beats the same model trained on zeros.

If the labels do not follow the inputs (shuffled apart from them, misaligned after a join or a
filter), a model learns nothing from the inputs that a model fed zeros does not. The loss is
measured on held-out batches, because a model can memorise even random labels on its training
data (Zhang et al., 2017).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "tip 7: input-independent baseline"
GATE = "input_independent"


@dataclass
class Settings(GateSettings):
    steps: int = 100  # optimizer steps for each of the two copies, on the same batches
    lr: Optional[float] = None  # learning rate for both; null = optim.lr
    held_out_batches: int = 2  # test batches the two losses are measured on
    # real-input loss / zeroed-input loss must be at most this: "clearly lower", not a tie.
    max_ratio: float = 0.9


def learns_from_inputs(real: float, zeroed: float, settings: Settings) -> Verdict:
    """`real`, `zeroed`: held-out losses of two copies of a model trained from the same init for
    `settings.steps` steps on the same batches, one fed the real inputs and one fed zeros."""
    ratio = real / zeroed if zeroed > 0 else (0.0 if real <= 0 else math.inf)
    if not math.isfinite(real):
        ratio = math.inf
    shown = f"<= {settings.max_ratio}"
    key = (f"<gates.input_independent.max_ratio={settings.max_ratio}, "
           f"gates.input_independent.steps={settings.steps}>")
    if ratio <= settings.max_ratio:
        return passed(GATE, round(ratio, 4), shown, f"after {settings.steps} steps, held-out loss {real:.4f} on real "
                      f"inputs vs {zeroed:.4f} on zeroed inputs (ratio {ratio:.2f})", TIP, real=real, zeroed=zeroed)
    return failed(GATE, round(ratio, 4) if math.isfinite(ratio) else ratio, shown,
                  f"after {settings.steps} steps, the model fed real inputs reached held-out loss {real:.4f}, the same "
                  f"model fed zeros {zeroed:.4f} (ratio {ratio:.2f}): it learns no more from the inputs than from "
                  "their absence. Likely causes: labels shuffled apart from the inputs (a permutation applied to one "
                  "and not the other), test labels misaligned with test inputs, inputs overwritten or constant, a "
                  f"model that ignores its input, a learning rate far too low for {settings.steps} steps. {key}",
                  TIP, real=real, zeroed=zeroed)
