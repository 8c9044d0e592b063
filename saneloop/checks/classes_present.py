"""Gate `classes_present`: every class (or target value the task expects) occurs in training data."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..tasks.base import Task
from .settings import GateSettings
from .verdict import Verdict, failed, passed

TIP = "data checks (recipe step 1: become one with the data)"


@dataclass
class ClassesPresentSettings(GateSettings):
    pass


def all_classes_present(task: Task, train_targets: torch.Tensor) -> Verdict:
    missing = task.missing_targets(train_targets)
    if missing:
        return failed(
            "classes_present",
            missing,
            [],
            f"classes {missing} never occur in the training set: "
            "the model cannot learn them. Likely causes: a filtered or truncated dataset, a wrong "
            "num_classes, or a split that is not stratified.",
            TIP,
        )
    return passed("classes_present", [], [], "every class occurs in the training set", TIP)
