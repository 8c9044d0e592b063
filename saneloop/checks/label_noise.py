"""Report `label_noise`: the training examples most likely mislabelled, ranked. It never halts: some
noise is in every real data set, and the person decides what to fix.

Confident learning (Northcutt et al. 2021, as cleanlab's `find_label_issues` with
`filter_by="confident_learning"`): from out-of-sample predicted probabilities, a class's threshold is
the mean probability the model gives that class on examples labelled with it; an example is a likely
label issue when some other class clears its own threshold and is the most probable such class, and
the model's most probable class is not the given label (cleanlab drops those too: a class with a low
threshold, e.g. a weak model's view of one class, would otherwise list examples the model believes,
read as "labelled 1, looks 1").
Issues are ranked by self-confidence (the probability of the given label), lowest first. The
probabilities are out of sample by cross-fitting: copies of the initialised model train on one
half of the training set and predict the other half. (cleanlab itself is not a dependency: these
few lines are its core, and the package pulls in pandas, about half a second to import.)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, passed, skipped
from .measure.fitting import LossFn, OptimizerFactory, cycled, step, trainable

TIP = "become one with the data: look at the examples the model and the labels disagree on"
_LISTED = 10


@dataclass
class LabelNoiseSettings(GateSettings):
    steps: int = bounded(30, low=1)  # optimizer steps of each of the two cross-fitted copies (~3 epochs of a half)
    shown: int = bounded(16, low=1)  # worst examples drawn in figures/label_noise.png
    # Training examples ranked, a seeded random sample of a larger set: the cost stays flat in its size.
    max_items: int = bounded(8192, low=4)


def probabilities(output: torch.Tensor) -> Optional[torch.Tensor]:
    """Class probabilities [B, C] from logits [B, C], or from one logit [B] / [B, 1] (two classes)."""
    if output.dim() == 2 and output.shape[1] >= 2:
        return output.float().softmax(1)
    if output.dim() == 1 or (output.dim() == 2 and output.shape[1] == 1):
        p = output.float().reshape(-1).sigmoid()
        return torch.stack([1 - p, p], 1)
    return None


def cross_fitted(
    model: nn.Module,
    folds: list[tuple[Callable[[], Any], Callable[[], Any]]],
    loss_fn: LossFn,
    optimizer: OptimizerFactory,
    steps: int,
    device: Optional[torch.device] = None,
    *,
    outputs: ModelOutputs = DEFAULT_OUTPUTS,
) -> Optional[torch.Tensor]:
    """For each (train batches, held-out batches) fold: a copy trained `steps` steps on the first,
    probabilities predicted on the second, concatenated in fold order."""
    found = []
    for train_batches, held_out in folds:
        copy_ = copy.deepcopy(model).train()
        opt = optimizer(trainable(copy_))
        for batch in cycled(train_batches(), steps):
            step(copy_, opt, loss_fn, batch if device is None else batch.to(device), outputs)
        copy_.eval()
        with torch.no_grad():
            for batch in held_out():
                probs = probabilities(forward(copy_, batch if device is None else batch.to(device), outputs))
                if probs is None:
                    return None
                found.append(probs.cpu())
    return torch.cat(found)


def label_issues(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Positions of likely label issues, ranked by self-confidence (lowest first); never one whose most
    probable class is its label."""
    n, classes = probs.shape
    labels = labels.long().reshape(-1)
    given = probs[torch.arange(n), labels]
    counts = torch.bincount(labels, minlength=classes).clamp_min(1)
    thresholds = torch.zeros(classes).scatter_add_(0, labels, given.float()) / counts
    above = probs >= thresholds[None, :]
    confident = torch.where(above, probs, torch.full_like(probs, -1.0)).argmax(1)
    issue = above.any(1) & (confident != labels) & (probs.argmax(1) != labels)
    found = issue.nonzero().flatten()
    return found[given[found].argsort()]


def likely_mislabelled(probs: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> Verdict:
    """The ranked likely issues as a passing verdict (a report): count, share, the worst few with the
    label given and the one the model believes."""
    if probs.shape[0] != labels.reshape(-1).shape[0]:
        return skipped(GATE, "one prediction per example was not available", TIP)
    issues = label_issues(probs, labels)
    labels = labels.long().reshape(-1)
    worst = [
        {
            "index": int(indices[i]),
            "label": int(labels[i]),
            "predicted": int(probs[i].argmax()),
            "p_label": round(float(probs[i, labels[i]]), 4),
        }
        for i in issues.tolist()
    ]
    named = ", ".join(f"{w['index']} (labelled {w['label']}, looks {w['predicted']})" for w in worst[:_LISTED])
    return passed(
        GATE,
        len(worst),
        "a report",
        f"{len(worst)} of {len(labels)} training examples ({len(worst) / max(len(labels), 1):.1%}) are likely "
        f"mislabelled by confident learning on cross-fitted predictions"
        + (
            f"; worst first: {named}. Look at them (figures/label_noise.png); relabel or drop the wrong ones"
            if worst
            else ""
        ),
        TIP,
        worst=worst[:100],
    )


GATE = Gate(
    name="label_noise",
    stage="baselines",
    budget_share=0.1,
    settings=LabelNoiseSettings,
    tip=TIP,
    what="the training examples most likely mislabelled, from cross-fitted predictions (a report)",
    checks=(likely_mislabelled,),
    figures=("label_noise",),
    after=("too_good",),
    applies=("class_labels",),
    halts=False,
)
