"""Gate `inputs_finite`: no NaN or Inf in any input or target, named by sample index.

In-memory tensors are checked whole. Other datasets are checked on a random sample in setup, with
the guarantee it gives (no bad item in 2,000 random ones: at most 0.15% of the set, at 95%), and
every training item is checked again as epoch 1 of `train` reads it (gate `full_pass`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed

TIP = "data checks (recipe step 1: become one with the data)"
_MAX_LISTED = 20
CONFIDENCE = 0.95


@dataclass
class InputsFiniteSettings(GateSettings):
    # Random items per split whose inputs setup reads, when the split is not in-memory tensors (those
    # are checked whole). The targets are always read whole; `full_pass` reads every training item.
    sample: int = bounded(2000, low=1)


def all_finite(datasets: Mapping[str, Any]) -> Verdict:
    """Read every item of each dataset and name the samples whose inputs or target hold NaN or Inf.

    Usable on its own: `all_finite({"train": train_set, "test": test_set}).passed`.
    """
    from ..data.summary import summarize

    return judge({split: summarize(dataset, split).nonfinite for split, dataset in datasets.items()})


def at_most(checked: int, confidence: float = CONFIDENCE) -> float:
    """The largest fraction of bad items that `checked` random items, all good, leave plausible: the
    p with (1 - p) ** checked = 1 - confidence (rule of three: about 3 / checked at 95%)."""
    return 1.0 - (1.0 - confidence) ** (1.0 / max(checked, 1))


def judge(
    nonfinite_by_split: Mapping[str, list[int]], coverage: Optional[Mapping[str, tuple[int, int]]] = None
) -> Verdict:
    """`nonfinite_by_split` maps a split name to the indices of samples holding NaN or Inf;
    `coverage` maps it to (items checked, items in the split) where not every item was checked."""
    bad = {split: idx for split, idx in nonfinite_by_split.items() if idx}
    sampled = {split: c for split, c in (coverage or {}).items() if c[0] < c[1]}
    if bad:
        where = "; ".join(
            f"{split} indices {idx[:_MAX_LISTED]}"
            + (f" (+{len(idx) - _MAX_LISTED} more)" if len(idx) > _MAX_LISTED else "")
            for split, idx in bad.items()
        )
        count = sum(len(i) for i in bad.values())
        among = "; ".join(f"{c:,} random {split} items of {n:,} were read" for split, (c, n) in sampled.items())
        among = f" ({among}: there may be more)" if among else ""
        return failed(
            GATE,
            count,
            0,
            f"{count} samples hold NaN or Inf: {where}{among}. Likely causes: "
            "normalising by a zero standard deviation, log of zero, missing values in the source.",
            TIP,
        )
    if not sampled:
        return passed(GATE, 0, 0, "all inputs and targets are finite", TIP)
    said = "; ".join(
        f"{checked:,} random {split} items of {total:,}: at most {at_most(checked):.2%} of them at "
        f"{CONFIDENCE:.0%} confidence"
        for split, (checked, total) in sampled.items()
    )
    return passed(
        GATE,
        0,
        0,
        f"no NaN or Inf in a sample ({said}); every target was checked, and epoch 1 of train checks "
        "every training item as it reads it (gate full_pass) <gates.inputs_finite.sample>",
        TIP,
        coverage={split: list(c) for split, c in sampled.items()},
    )


GATE = Gate(
    name="inputs_finite",
    stage="setup",
    settings=InputsFiniteSettings,
    tip=TIP,
    what="every input and target is finite (in memory: all of them; else a random sample, with its guarantee)",
    checks=(all_finite,),
    after=("targets",),
)
