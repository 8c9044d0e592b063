"""Gate `contamination`: the test items that have a copy in the training set (found by `split_overlap`)
score no better than the test items that have none.

Real data carries some copies (CIFAR-10: 3.3% of test images; text: repeated lines, boilerplate), and
a copy does harm only if the model remembers it: then the test metric measures memory. So the effect is
measured where the metric exists: the headline metric on the clean items beside the metric on all (both
reported, a typed field of the report), and the per-example loss of the copies against the clean items'.
Under "copies do not help", the copies' losses are drawn like the clean items', so their mean differs
from the clean mean by the clean items' spread x sqrt(1/copies + 1/clean): the gate halts when the
copies lead by `z` such standard errors and by `min_gain` of the clean loss. A handful of copies cannot
halt on luck (3 copies answered perfectly, on a task at 63% accuracy: 1.9 standard errors; the clean
items' losses are skewed to the right, so the mean of a few is less often far below theirs than a normal
law says); a model that answers 50 of 449 from a lookup does (7.5 standard errors). What it cannot tell
apart: copies that are easier items by nature (short lines, stock phrases) and a model that remembers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
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
    clean, copies = losses[~mask], losses[mask]
    se = float(clean.std()) * math.sqrt(1 / len(copies) + 1 / len(clean)) if len(clean) > 1 else math.nan
    lead = Lead(float(clean.mean()) - float(copies.mean()), se, float(clean.mean()), len(copies))
    metrics = _metrics(task, outputs, targets, mask, lead)
    return _judge(metrics, lead, settings)


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
        + (f"a lead of {lead.shown()}" if math.isfinite(lead.se) else "too few clean items to compare")
    )
    expected = f"< {settings.z} se or < {settings.min_gain:.0%}"
    details = {"metrics": m}
    z = round(lead.z, 2) if math.isfinite(lead.se) else None
    if z is None or not lead.clear(settings.z, settings.min_gain):
        return passed(GATE, z, expected, f"{shown}: the copies do not inflate the metric", TIP, **details)
    return failed(
        GATE,
        z,
        expected,
        f"{shown}. The model remembers the test items it saw in training: the test metric on all items "
        f"overstates it; quote the {m.clean_items} clean items' {m.clean:.4f}, or de-duplicate the test set "
        "against the training set (the pairs: split_overlap's verdict and figure), then split once. "
        f"<gates.contamination.z={settings.z}, gates.contamination.min_gain={settings.min_gain}>",
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
