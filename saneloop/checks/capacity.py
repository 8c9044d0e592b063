"""Gate `capacity`: a wider model, trained for the same short budget, reaches a training loss no
higher than the model's, within noise.

More capacity should fit the training data at least as well. When it does not, something in the
model does not scale: an init that ignores fan-in, a width argument that is ignored or narrows
another layer, a learning rate only the smaller model tolerates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "tip 9: a bit more capacity lowers the training loss"
GATE = "capacity"


@dataclass
class Settings(GateSettings):
    # Config overrides that make the model wider, e.g. {model.hidden: 512}; empty: the gate is skipped.
    wider: dict[str, Any] = field(default_factory=dict)
    steps: int = 100  # optimizer steps for each model, on the same batches
    lr: Optional[float] = None  # learning rate for both; null = optim.lr
    window: float = 0.25  # final fraction of the steps whose losses are compared
    # Allowed excess of the wider model's loss, in standard errors of the paired per-step difference.
    z: float = 2.0
    # Plus this fraction of the model's own loss: the two curves are correlated from step to step, so
    # the standard error alone understates how far two correct runs of 100 steps can end apart.
    rtol: float = 0.25


def wider_no_worse(base: Sequence[float], wider: Sequence[float], what: str, settings: Settings) -> Verdict:
    """Compare the final `window` of two per-step training-loss curves taken on the same batches.

    Pairing step by step cancels the batch-to-batch noise; the verdict allows `z` standard errors of
    the differences plus `rtol` of the model's own final loss.
    """
    width = max(2, int(min(len(base), len(wider)) * settings.window))
    a, b = list(base)[-width:], list(wider)[-width:]
    diffs = [y - x for x, y in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / max(len(diffs) - 1, 1))
    base_end, wide_end = sum(a) / len(a), sum(b) / len(b)
    allowed = settings.z * sd / math.sqrt(len(diffs)) + settings.rtol * abs(base_end)
    key = f"<gates.capacity.wider={settings.wider}, gates.capacity.steps={settings.steps}>"
    message = (f"over the last {width} of {settings.steps} steps, training loss {wide_end:.4f} for the wider model "
               f"({what}) vs {base_end:.4f} for the model (difference {mean:+.4f}, noise {allowed:.4f})")
    if math.isfinite(mean) and mean <= allowed:
        return passed(GATE, round(mean, 4), f"<= {allowed:.4f}", message, TIP, base=a, wider=b)
    return failed(GATE, round(mean, 4) if math.isfinite(mean) else mean, f"<= {allowed:.4f}",
                  f"{message}: more capacity made the training loss worse. Likely causes: weights initialised "
                  "without scaling by 1/sqrt(fan_in), a learning rate too high for the wider model, a width argument "
                  f"that is ignored or shrinks another layer, a bottleneck elsewhere. {key}", TIP, base=a, wider=b)
