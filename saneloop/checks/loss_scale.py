"""Gate `loss_scale`: under fp16 with a gradient scaler, the loss scale does not collapse.

fp16 training (`accelerator.mixed_precision=fp16` on CUDA) multiplies the loss by a scale before the
backward pass, so small gradients survive fp16's narrow range; a step whose gradients overflow (Inf/NaN)
is skipped and the scale halved. A few skipped steps are how the scaler finds its scale. A scale that
keeps halving (below `min_scale`), or `max_skipped_in_row` skipped steps in a row, means the gradients
overflow fp16 at every scale: no step trains the model, and the loss curve of the steps "taken" is a
curve of steps that changed nothing. The run halts in `train` as soon as that is seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin, skipped

TIP = "fp16 needs its loss scale: a scale that collapses trains nothing"
FIX = (
    "train in bf16 (accelerator.mixed_precision=bf16: fp32's range, no scaler), lower the learning rate "
    "(optim.lr), or clip the gradients"
)
CAUSES = (
    "a loss or activations beyond fp16's range (about 65504), a learning rate too high, a division by a tiny "
    "norm or an epsilon below fp16's resolution (e.g. 1e-8 in a normalisation)"
)


@dataclass
class LossScaleSettings(GateSettings):
    min_scale: float = bounded(2.0**-14, low=0, above=True)  # a loss scale below this has collapsed
    max_skipped_in_row: int = bounded(20, low=1)  # this many skipped steps in a row: every scale overflows


@dataclass
class ScaleWatch:
    """What the scaler did, step by step: the steps it skipped (1-based), the current run of them, the scale."""

    skipped: list[int] = field(default_factory=list)
    in_row: int = 0
    scale: Optional[float] = None
    steps: int = 0

    def took(self, step: int) -> None:
        self.in_row, self.steps = 0, step

    def skip(self, steps: list[int], scale: float) -> None:
        """The optimizer step at `steps[-1]` was skipped (`steps`: the micro-steps it stood for)."""
        self.skipped += steps
        self.in_row += 1
        self.scale, self.steps = scale, steps[-1]

    def collapsed(self, settings: LossScaleSettings) -> bool:
        return _collapsed(self.scale, self.in_row, settings)

    def verdict(self, settings: LossScaleSettings) -> Verdict:
        return loss_scale_held(self.scale, self.in_row, len(self.skipped), self.steps, settings)


def loss_scale_held(
    scale: Optional[float],
    in_row: int,
    skipped: int = 0,
    steps: int = 0,
    settings: LossScaleSettings = LossScaleSettings(),
) -> Verdict:
    """`scale`: the scaler's loss scale (`GradScaler.get_scale()`); `in_row`: the steps skipped in a row up to
    now, of `skipped` in `steps`. Failed when the scale fell below `min_scale` or `max_skipped_in_row` steps in
    a row were skipped."""
    said = f"the gradient scaler skipped {skipped} of {steps} steps ({in_row} in a row at the end), loss scale " + (
        "not read" if scale is None else f"{scale:.4g}"
    )
    expected = f"scale >= {settings.min_scale:.3g} and < {settings.max_skipped_in_row} skipped in a row"
    if not _collapsed(scale, in_row, settings):
        margin = relative_margin(in_row, settings.max_skipped_in_row)
        return passed(GATE, scale, expected, said, TIP, margin=margin, skipped_steps=skipped)
    return failed(
        GATE,
        scale,
        expected,
        f"{said}: the loss scale collapsed; the gradients overflow fp16 at every scale, so the steps train "
        f"nothing <gates.loss_scale.min_scale={settings.min_scale:g}, "
        f"gates.loss_scale.max_skipped_in_row={settings.max_skipped_in_row}>. Likely causes: {CAUSES}. "
        f"Fix: {FIX}.",
        TIP,
        skipped_steps=skipped,
    )


def _collapsed(scale: Optional[float], in_row: int, settings: LossScaleSettings) -> bool:
    return (scale is not None and scale < settings.min_scale) or in_row >= settings.max_skipped_in_row


def no_scaler(mixed_precision: str) -> Verdict:
    return skipped(GATE, f"no gradient scaler (mixed precision {mixed_precision}): no step is skipped", TIP)


GATE = Gate(
    name="loss_scale",
    stage="train",
    settings=LossScaleSettings,
    tip=TIP,
    what="under fp16, the gradient scaler's loss scale does not collapse (every step skipped)",
    checks=(loss_scale_held,),
    event="every skipped step, and the end of the fit",
    applies=("scaler",),
)
