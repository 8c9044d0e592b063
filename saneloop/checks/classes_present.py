"""Gate `classes_present`: every class (or target value the task expects) occurs in training data.

A classification class that never occurs in training cannot be learned: that halts. A token
vocabulary is different: every real tokenizer (a byte vocabulary of 256, a word list) has symbols a
given corpus never uses. A task that says its targets are tokens (trait `token_vocabulary = True`, e.g.
charlm) gets a note with the count instead; its prior gives unseen tokens half a count, so their
bias, the loss at init and the baselines stay finite, also for a test token unseen in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..tasks.base import Task
from ..tasks.traits import traits_of
from .base.gate import Gate
from .base.settings import GateSettings
from .base.verdict import Verdict, failed, passed

TIP = "data checks (recipe step 1: become one with the data)"
_LISTED = 12  # how many missing values a message names


@dataclass
class ClassesPresentSettings(GateSettings):
    pass


def _listed(values: list) -> str:
    shown = ", ".join(str(v) for v in values[:_LISTED])
    return f"[{shown}{', ...' if len(values) > _LISTED else ''}]"


def all_classes_present(
    task: Task, train_targets: torch.Tensor, held_out: Optional[dict[str, torch.Tensor]] = None
) -> Verdict:
    """`held_out`: the targets of the other splits (test, a validation set the data brings), to say how many
    items of the missing classes they hold: a class the model is judged on and never trained on."""
    missing = task.missing_targets(train_targets)
    unseen = _held_out_counts(missing, held_out or {})
    if missing and traits_of(task).token_vocabulary:
        size = task.head_size()
        return passed(
            GATE,
            len(missing),
            "a note",
            f"{len(missing)} of the {size} token ids never occur as a training target (e.g. {_listed(missing)}): "
            "a vocabulary holds symbols a corpus does not use, which is no bug. Their prior gets half a count, so "
            f"their bias and every loss stay finite; the model will give them little probability{unseen}.",
            TIP,
            unseen=missing,
        )
    ignored = _ignored(task, train_targets)
    if missing:
        causes = "a filtered or truncated dataset, a wrong num_classes, or a split that is not stratified"
        sorted_split = "data sorted by label and split without shuffling (shuffle before splitting)"
        if ignored:
            index = traits_of(task).ignore_index
            causes = (
                f"{_ignored_text(task, ignored, train_targets)}: likely the labels of {_listed(missing)}, sent there "
                f"by a label map (a missing entry, a dict .get(label, {index})); fix the map. Other causes: {causes}"
            )
        elif unseen:  # the classes exist, in the held-out data: the split put them all there
            causes = f"Likely cause: {sorted_split}; else {causes}"
        else:
            causes = f"Likely causes: {causes}"
        return failed(
            GATE,
            missing,
            [],
            f"classes {_listed(missing)} never occur in the training set{unseen}: the model cannot learn them. "
            f"{causes}.",
            TIP,
            ignored=ignored,
        )
    counted = f"; {_ignored_text(task, ignored, train_targets)}" if ignored else ""
    return passed(GATE, [], [], f"every class occurs in the training set{counted}", TIP, ignored=ignored)


def _held_out_counts(missing: list, held_out: dict[str, torch.Tensor]) -> str:
    """ ", yet test holds 143 items of them (8: 37, 9: 106)" for each held-out split that holds missing classes."""
    said = []
    for split, targets in held_out.items():
        if targets.is_floating_point() or not missing:
            continue
        counts = {c: int((targets == c).sum()) for c in missing}
        counts = {c: n for c, n in counts.items() if n}
        if counts:
            listed = ", ".join(f"{c}: {n}" for c, n in list(counts.items())[:_LISTED])
            said.append(f"{split} holds {sum(counts.values())} items of them ({listed})")
        # a split may hold none: a vocabulary's unused ids, a wrong num_classes
    return f", yet {' and '.join(said)}" if said else ""


def _ignored(task: Task, targets: torch.Tensor) -> int:
    """How many training targets equal the task's ignore index (the loss skips them)."""
    index = traits_of(task).ignore_index
    if index is None or targets.is_floating_point():
        return 0
    return int((targets == index).sum())


def _ignored_text(task: Task, ignored: int, targets: torch.Tensor) -> str:
    many = ignored > 1
    return (
        f"{ignored} training target{'s' * many} ({ignored / targets.numel():.1%}) equal{'s' * (not many)} the "
        f"ignore index {traits_of(task).ignore_index}, which the loss skips"
    )


GATE = Gate(
    name="classes_present",
    stage="setup",
    settings=ClassesPresentSettings,
    tip=TIP,
    what="every class occurs in the training set (a token vocabulary's unseen ids are a note)",
    checks=(all_classes_present,),
    after=("targets",),
)
