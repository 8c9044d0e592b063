"""Gate `determinism`: two short runs from the same seed give bit-identical losses."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed

TIP = "tip 1: fix the random seed"


@dataclass
class DeterminismSettings(GateSettings):
    steps: int = bounded(5, low=1)  # optimizer steps in each of the two short runs


def _same_bits(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


def reproducible(run: Callable[[], Sequence[float]]) -> Verdict:
    """Call `run` (a short training run from scratch that seeds itself and returns its losses) twice;
    the two must be equal bit for bit. Usable on its own: `reproducible(lambda: my_short_run(seed=0)).passed`."""
    return identical_losses(list(run()), list(run()))


def identical_losses(first: Sequence[float], second: Sequence[float]) -> Verdict:
    """Pass when both runs' losses are equal bit for bit (NaN counts as equal to NaN)."""
    diverged = next((i for i, (a, b) in enumerate(zip(first, second)) if not _same_bits(a, b)), None)
    if diverged is None and len(first) == len(second):
        return passed(GATE, 0.0, 0.0, f"{len(first)} steps, identical losses bit for bit", TIP)
    step = diverged if diverged is not None else min(len(first), len(second))
    gap = abs(first[step] - second[step]) if diverged is not None else float("nan")
    return failed(
        GATE,
        gap,
        0.0,
        f"two runs from the same seed differ at step {step} (losses {list(first)} vs {list(second)}). "
        "Likely causes: an unseeded random source in the model or dataset (numpy.random.default_rng() "
        "without a seed, random.SystemRandom, a torch.Generator seeded from the clock), or a "
        "nondeterministic kernel.",
        TIP,
    )


GATE = Gate(
    name="determinism",
    stage="setup",
    settings=DeterminismSettings,
    tip=TIP,
    what="two short training runs from the seed give identical losses, bit for bit",
    checks=(reproducible, identical_losses),
    after=("augmentation_off", "split_overlap", "split_shift", "target_leak"),  # the model after the data,
)
