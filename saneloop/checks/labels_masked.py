"""Gate `labels_masked`: a padded position carries no label, only the ignore index (-100).

A padding collator pads `input_ids` with the pad token and must pad `labels` with the ignore index.
A collator that pads labels like inputs (or copies `input_ids` into `labels` after padding) makes the
loss count padding: the model learns to predict pad tokens, the loss falls for the wrong reason, and
a sequence's loss depends on how long its batch's longest sequence was. Read from the run's own
batches, through its collate, before any step.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from ..data.batch import Batch
from ..tasks.traits import traits_of
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped
from .measure.fitting import each

TIP = "data checks (recipe step 1: become one with the data): padding counts nowhere"


@dataclass
class LabelsMaskedSettings(GateSettings):
    batch_size: int = bounded(64, low=1)  # samples per batch read through the run's collate
    batches: int = bounded(4, low=1)  # batches read


def padding_labels_ignored(task: Any, batches: Iterable[Any], count: int = 4) -> Verdict:
    """Every position the padding mask (`data.mask_key`, default `attention_mask`) marks as padding must
    have the task's ignore index as its label. Usable on its own:
    `padding_labels_ignored(CharLM(65), train_loader).passed`."""
    ignore = traits_of(task).ignore_index
    if ignore is None:
        return skipped(GATE, f"task '{task.name}' has no ignore index <task.ignore_index>", TIP)
    picked = list(itertools.islice(each(batches), count))
    usable = [b for b in picked if _per_position(b)]
    if not usable:
        return skipped(GATE, _why_not(picked), TIP)
    padded = sum(int((~b.padding_mask).sum()) for b in usable)
    if padded == 0:
        return skipped(GATE, f"no padded positions in {len(usable)} batches of the training set", TIP)
    offenders, labelled = [], 0
    for b in usable:
        bad = ~b.padding_mask & (b.targets != ignore)
        labelled += int(bad.sum())
        for row in bad.any(1).nonzero().flatten()[:4].tolist():
            offenders.append(_describe(b, row, bad[row], ignore))
    if not labelled:
        return passed(GATE, 0, 0, f"all {padded} padded positions in {len(usable)} batches are labelled {ignore}", TIP)
    return failed(
        GATE,
        labelled,
        0,
        f"{labelled} of {padded} padded positions carry a label instead of the ignore index {ignore} "
        f"({'; '.join(offenders[:3])}): the loss counts padding. Likely causes: labels padded like the "
        "inputs (with the pad token id), labels copied from input_ids after padding without masking "
        "(DataCollatorForLanguageModeling(mlm=False) masks them), or another ignore index than the task's "
        f"<task.ignore_index={ignore}, data.mask_key={usable[0].format.mask_key}>",
        TIP,
    )


def _per_position(batch: Batch) -> bool:
    mask, targets = batch.padding_mask, batch.targets
    return mask is not None and isinstance(targets, torch.Tensor) and targets.shape == mask.shape


def _why_not(picked: list[Batch]) -> str:
    if not picked:
        return "no training batches to read"
    if picked[0].padding_mask is None:
        return f"the batches hold no padding mask `{picked[0].format.mask_key}` <data.mask_key>"
    return "the targets are not one per position of the padding mask (e.g. one label per sequence)"


def _describe(batch: Batch, row: int, bad: torch.Tensor, ignore: int) -> str:
    positions = bad.nonzero().flatten()
    labels = batch.targets[row][positions[:4]].tolist()
    return f"sample {row} of a batch: {len(positions)} padded positions labelled, e.g. {labels}"


GATE = Gate(
    name="labels_masked",
    stage="setup",
    settings=LabelsMaskedSettings,
    tip=TIP,
    what="padded batches: padding positions are labelled with the ignore index",
    checks=(padding_labels_ignored,),
    after=("targets",),
    applies=("padded",),
)
