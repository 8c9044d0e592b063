"""Gate `targets`: every target fits the task's contract (e.g. 0 <= y < num_classes, integer dtype).

A task that can only judge targets beside their inputs (`ChecksPairs`, e.g. a language model whose
targets must be its inputs shifted by one) is also shown a few (input, target) pairs of each split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..tasks.base import ChecksPairs, TargetProblem, Task
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed

TIP = "data checks (recipe step 1: become one with the data)"


@dataclass
class TargetsSettings(GateSettings):
    pairs: int = bounded(16, low=1)  # (input, target) pairs per split shown to a task that checks pairs (e.g. charlm)


def targets_valid(
    task: Task,
    targets_by_split: dict[str, torch.Tensor],
    pairs_by_split: Optional[dict[str, tuple[list[int], torch.Tensor, torch.Tensor]]] = None,
) -> Verdict:
    """Ask the task which targets break its contract, in each split, and name the samples.

    `pairs_by_split`: per split, the dataset indices of a few samples and their stacked inputs and
    targets; only a `ChecksPairs` task is shown them.
    """
    found, fixes = [], []
    for split, targets in targets_by_split.items():
        problems = list(task.target_problems(targets))
        if isinstance(task, ChecksPairs) and pairs_by_split and split in pairs_by_split:
            indices, inputs, paired = pairs_by_split[split]
            problems += [
                TargetProblem(p.why, [indices[i] for i in p.indices]) for p in task.pair_problems(inputs, paired)
            ]
        for problem in problems:
            where = f" at {split} indices {problem.indices}" if problem.indices else ""
            found.append(f"{split}: {problem.why}{where}")
            fixes.append(problem.fix)
    if found:
        return failed(GATE, len(found), 0, "; ".join(found) + ". " + _causes(fixes), TIP)
    n = sum(len(t) for t in targets_by_split.values())
    return passed(GATE, 0, 0, f"all {n} targets fit task '{task.name}'", TIP)


def _causes(fixes: list[str]) -> str:
    """The tasks' own fixes when each problem came with one (once each), else the usual causes."""
    if all(fixes):
        return " ".join(dict.fromkeys(fixes))
    return "Likely causes: labels off by one, a wrong num_classes, or targets of the wrong dtype."


GATE = Gate(
    name="targets",
    stage="setup",
    settings=TargetsSettings,
    tip=TIP,
    what="every target fits the task (in range, integer classes, one value per sample)",
    checks=(targets_valid,),
)
