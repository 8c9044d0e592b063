"""Gate `inputs_finite`: no NaN or Inf in any input or target, named by sample index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "data checks (recipe step 1: become one with the data)"
_MAX_LISTED = 20


@dataclass
class InputsFiniteSettings(GateSettings):
    pass


def all_finite(datasets: Mapping[str, Any]) -> Verdict:
    """Read every item of each dataset and name the samples whose inputs or target hold NaN or Inf.

    Usable on its own: `all_finite({"train": train_set, "test": test_set}).passed`.
    """
    from ..data.summary import summarize

    return judge({split: summarize(dataset, split).nonfinite for split, dataset in datasets.items()})


def judge(nonfinite_by_split: Mapping[str, list[int]]) -> Verdict:
    """`nonfinite_by_split` maps a split name to the indices of samples holding NaN or Inf."""
    bad = {split: idx for split, idx in nonfinite_by_split.items() if idx}
    if bad:
        where = "; ".join(
            f"{split} indices {idx[:_MAX_LISTED]}"
            + (f" (+{len(idx) - _MAX_LISTED} more)" if len(idx) > _MAX_LISTED else "")
            for split, idx in bad.items()
        )
        count = sum(len(i) for i in bad.values())
        return failed(
            "inputs_finite",
            count,
            0,
            f"{count} samples hold NaN or Inf: {where}. Likely causes: "
            "normalising by a zero standard deviation, log of zero, missing values in the source.",
            TIP,
        )
    return passed("inputs_finite", 0, 0, "all inputs and targets are finite", TIP)
