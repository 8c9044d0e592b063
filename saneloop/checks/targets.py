"""Gate `targets`: every target fits the task's contract (e.g. 0 <= y < num_classes, integer dtype)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..tasks.base import Task
from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "data checks (recipe step 1: become one with the data)"


@dataclass
class Settings(GateSettings):
    pass


def targets_valid(task: Task, targets_by_split: dict[str, torch.Tensor]) -> Verdict:
    """Ask the task which targets break its contract, in each split, and name the samples."""
    found = []
    for split, targets in targets_by_split.items():
        for problem in task.target_problems(targets):
            where = f" at {split} indices {problem.indices}" if problem.indices else ""
            found.append(f"{split}: {problem.why}{where}")
    if found:
        return failed("targets", len(found), 0, "; ".join(found) +
                      ". Likely causes: labels off by one, a wrong num_classes, or targets of the wrong dtype.", TIP)
    n = sum(len(t) for t in targets_by_split.values())
    return passed("targets", 0, 0, f"all {n} targets fit task '{task.name}'", TIP)
