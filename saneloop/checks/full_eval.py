"""Gate `full_eval`: evaluation saw every test example exactly once."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base.gate import Gate
from .base.settings import GateSettings
from .base.verdict import Verdict, failed, passed

TIP = "tip 3: evaluate on the full test set"


@dataclass
class FullEvalSettings(GateSettings):
    pass


def every_example_once(seen_indices: torch.Tensor, dataset_size: int) -> Verdict:
    """`seen_indices`: the dataset index of every prediction the metrics were computed on."""
    counts = torch.bincount(seen_indices.long(), minlength=dataset_size)
    missing = (counts == 0).nonzero().flatten()
    repeated = (counts > 1).nonzero().flatten()
    if len(missing) == 0 and len(repeated) == 0 and len(seen_indices) == dataset_size:
        return passed(GATE, len(seen_indices), dataset_size, f"all {dataset_size} test examples, once each", TIP)
    return failed(
        GATE,
        len(seen_indices),
        dataset_size,
        f"evaluation saw {len(seen_indices)} predictions for {dataset_size} test examples: "
        f"{len(missing)} never seen (e.g. {missing[:10].tolist()}), {len(repeated)} seen more than once "
        f"(e.g. {repeated[:10].tolist()}). Likely causes: drop_last=True on the test loader "
        "(loader.test.drop_last), a distributed sampler padding the last batch, a sampler that "
        "subsamples.",
        TIP,
    )


GATE = Gate(
    name="full_eval",
    stage="evaluate",
    settings=FullEvalSettings,
    tip=TIP,
    what="every validation and test example is evaluated exactly once, across processes",
    checks=(every_example_once,),
    after=("eval_mode",),
)
