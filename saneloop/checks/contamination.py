"""Gate `contamination`: the test items that have a copy in the training set (found by `split_overlap`)
score no better than the test items that have none.

Real data carries some copies (CIFAR-10: 3.3% of test images; text: repeated lines, boilerplate), and
a copy does harm only if the model remembers it: then the test metric measures memory. So the effect is
measured where the metric exists: the headline metric on the clean items beside the metric on all (both
reported, a typed field of the report), and the per-example losses of the copies against the clean items'.
Under "copies do not help", the copies' losses are drawn like the clean items', so their ranks among all
are uniform (Mann-Whitney): the gate halts when the copies rank lower by `z` standard errors and their
mean loss is below the clean items' by `min_gain` of it. Ranks, not means: a trained model's losses are
heavy-tailed (a few confident mistakes), and a mean's standard error missed a model that answered 95% of
60 copies from memory against 65% of the rest (2.1 standard errors by means; by ranks, many more).
Fewer than `min_copies` copies are reported, not judged. What no statistic tells apart: copies that are
easier items by nature (short lines, stock phrases) and a model that remembers them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Optional

import torch

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed
from .measure.paired import Lead
from .measure.per_example import example_loss

TIP = "data checks (recipe step 1): the test set is unseen; copies judged by what they do to the metric"


@dataclass
class ContaminationSettings(GateSettings):
    # The copies' mean loss must be below the clean items' by this many standard errors to halt (as
    # input_independent's 3), and by this share of the clean loss (a real, not a hair's, difference).
    z: float = bounded(3.0, low=0)
    min_gain: float = bounded(0.1, low=0)
    # Fewer copies than this are reported, not judged: the few easiest items of a test set can be copies by
    # nature (short lines, stock phrases), and 4 copies that all rank first are already 3.4 standard errors.
    min_copies: int = bounded(10, low=1)
    # ... and the copies must lower the mean test loss by more than this share of the clean items' mean loss:
    # a contamination whose effect on the quoted number is a fraction of a percent misleads no one. Natural
    # duplication in the zoo (a code corpus, 2.8% of test lines copied; GPT-2 lines padded to one length, 4%)
    # moved it by 0.6-1.2%; the bench's remembered copies (13% of the test set) by 11.6%.
    material: float = bounded(0.05, low=0)


@dataclass(frozen=True)
class CopyMetrics:
    """The test headline on every item, on the items without a training copy, and on the copies; the
    copies' mean loss against the clean items' (report.json `contamination`)."""

    headline: str
    all: float
    clean: float
    copies: float
    items: int
    clean_items: int
    copied_items: int
    clean_loss: float
    copies_loss: float
    lead_se: float
    shift: float = math.nan  # how far the copies lower the mean loss over all items (all - clean, as a positive)
    loss_se: float = math.nan  # the standard error of the mean loss over all items

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def copies_inflate(
    task: Any, outputs: Any, targets: torch.Tensor, indices: torch.Tensor, copied: list[int], settings: Any
) -> Verdict:
    """Judge the test predictions (`outputs`, `targets`, by dataset `indices`) of the items in `copied`
    against the rest. With no copies nothing is computed."""
    if not copied:
        return passed(GATE, 0, None, "no test item has a copy in the training set (split_overlap): nothing to compare")
    mask = torch.isin(indices.cpu(), torch.tensor(copied, dtype=torch.long))
    losses = example_loss(task)(outputs, targets, len(mask)).double()
    lead = rank_lead(losses[~mask], losses[mask], settings.min_copies)
    metrics = _metrics(task, outputs, targets, mask, lead)
    if (~mask).any():
        shift = float(losses[~mask].mean() - losses.mean())
        metrics = replace(metrics, shift=shift, loss_se=float(losses.std() / math.sqrt(len(losses))))
    return _judge(metrics, lead, settings)


def rank_lead(clean: torch.Tensor, copies: torch.Tensor, min_copies: int) -> Lead:
    """How far the copies' losses sit below the clean items' (Mann-Whitney: ranks, so a few clean items a
    model gets badly wrong do not drown the difference), as a Lead whose mean is the loss difference and
    whose standard error makes `z` the rank statistic's; NaN with fewer than `min_copies` copies."""
    n, k = len(copies), len(clean)
    gap = float(clean.mean()) - float(copies.mean())
    if n < min_copies or k < 2:
        return Lead(gap, math.nan, float(clean.mean()) if k else math.nan, n)
    ranks = _average_ranks(torch.cat([copies, clean]))
    u = float(ranks[n:].sum()) - k * (k + 1) / 2  # pairs (copy, clean) where the clean item loses more
    z = (u - n * k / 2) / math.sqrt(n * k * (n + k + 1) / 12)
    return Lead(gap, abs(gap) / abs(z) if z else math.inf, float(clean.mean()), n)


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks 1..N, ties sharing their mean rank."""
    unique, inverse, counts = torch.unique(values, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    return (ends - (counts.double() - 1) / 2)[inverse]


def _metrics(task: Any, outputs: Any, targets: torch.Tensor, mask: torch.Tensor, lead: Lead) -> CopyMetrics:
    headline = task.headline()
    value = lambda keep: float(task.metrics(outputs[keep], targets[keep])[headline]) if keep.any() else math.nan
    every = torch.ones_like(mask)
    return CopyMetrics(
        headline,
        value(every),
        value(~mask),
        value(mask),
        len(mask),
        int((~mask).sum()),
        int(mask.sum()),
        lead.base,
        lead.base - lead.mean,
        lead.se,
    )


def _judge(m: CopyMetrics, lead: Lead, settings: Any) -> Verdict:
    shown = (
        f"test {m.headline} {m.all:.4f} on all {m.items} items, {m.clean:.4f} on the {m.clean_items} without a "
        f"training copy, {m.copies:.4f} on the {m.copied_items} copies; their loss {m.copies_loss:.4g} against "
        f"{m.clean_loss:.4g}: "
        + (
            f"a lead of {lead.shown()} (by rank)"
            if math.isfinite(lead.se)
            else f"too few copies or clean items to judge <gates.contamination.min_copies={settings.min_copies}>"
        )
    )
    expected = f"< {settings.z} se or < {settings.min_gain:.0%}"
    details = {"metrics": m}
    z = round(lead.z, 2) if math.isfinite(lead.se) else None
    if z is None or not lead.clear(settings.z, settings.min_gain):
        return passed(GATE, z, expected, f"{shown}: the copies do not inflate the metric", TIP, **details)
    moved = (
        f"they lower the mean test loss by {m.shift:.4g}, {m.shift / m.clean_loss:.1%} of the clean items' "
        f"({m.shift / m.loss_se:.2g} standard errors)"
    )
    if not m.shift > settings.material * m.clean_loss:
        return passed(
            GATE,
            z,
            expected,
            f"{shown}; {moved}: under {settings.material:.0%}, so the number quoted is not misled; both are "
            f"reported <gates.contamination.material={settings.material}>",
            TIP,
            **details,
        )
    return failed(
        GATE,
        z,
        expected,
        f"{shown}; {moved}. The model remembers the test items it saw in training: the test metric on all items "
        f"overstates it; quote the {m.clean_items} clean items' {m.clean:.4f}, or de-duplicate the test set "
        "against the training set (the pairs: split_overlap's verdict and figure), then split once. "
        f"<gates.contamination.z={settings.z}, gates.contamination.min_gain={settings.min_gain}, "
        f"gates.contamination.material={settings.material}>",
        TIP,
        **details,
    )


def copy_metrics(verdict: Verdict) -> Optional[CopyMetrics]:
    """The metrics a verdict of this gate measured (None: no copies, nothing computed)."""
    return verdict.details.get("metrics")


GATE = Gate(
    name="contamination",
    stage="evaluate",
    settings=ContaminationSettings,
    tip=TIP,
    what="test items with a training copy score no better than the rest (the metric on both is reported)",
    checks=(copies_inflate,),
    after=("beats_baselines",),
)
