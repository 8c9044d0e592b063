"""Gate `target_range`: the held-out regression targets (test, and a validation set the data brings) lie
where the training targets do, before any training.

Data sorted by its target and split without shuffling puts the largest targets in the test set; a test
file left in raw units beside standardised training targets puts all of them far outside. The model
then never saw a target like the ones it is judged on, and the only gate that noticed was the last
(`beats_baselines`, after the whole run).

The rule is distribution-free, so a heavy tail or a tiny test set does not trip it. Under a random split
every one of the n + m targets is equally likely to be a held-out one, so the chance that the j largest
all fell into the m held-out items is C(m, j) / C(n + m, j) <= (m / (n + m))^j, whatever the targets'
distribution. The gate counts the held-out targets above the training maximum (and, apart, below the
training minimum), per output, and halts when so many of them would happen by chance less than `chance`
of the time (both sides and every output counted) and they are more than `share` of the split. A random
split of the zoo's and the recipes' data has at most 1 item beyond (2.5% of 40; most have none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped

TIP = "data checks (recipe step 1: become one with the data): every split against the others"


@dataclass
class TargetRangeSettings(GateSettings):
    # Largest chance that a random split puts so many held-out targets beyond the training range.
    chance: float = bounded(1e-6, low=0.0, high=1.0)
    # Fewer held-out targets than this share beyond the training range never halt (a few extreme items).
    share: float = bounded(0.02, low=0.0, high=1.0)


@dataclass
class Beyond:
    """The held-out targets of one split and output beyond one end of the training range."""

    split: str
    output: int
    side: str  # "above" or "below"
    count: int
    total: int
    edge: float  # the training maximum (above) or minimum (below)
    furthest: float  # how far the furthest one lies, in training standard deviations
    chance: float  # of a random split putting `count` or more there


def targets_in_range(targets: dict[str, torch.Tensor], settings: TargetRangeSettings | None = None) -> Verdict:
    """`targets`: per split ("train" and the held-out ones), the targets [N] or [N, K] as setup read them."""
    settings = settings or TargetRangeSettings()
    train = targets["train"]
    if not train.is_floating_point() or torch.unique(train).numel() <= 2:
        return skipped(GATE, "the targets are class ids or 0/1 labels, not continuous: classes_present judges", TIP)
    held = {split: t for split, t in targets.items() if split != "train" and len(t)}
    found = [b for split, t in held.items() for b in _beyond(split, _columns(train), _columns(t))]
    tests = 2 * max(1, sum(_columns(t).shape[1] for t in held.values()))
    bad = [b for b in found if b.chance * tests < settings.chance and b.count > settings.share * b.total]
    if bad:
        return failed(GATE, max(b.count / b.total for b in bad), f"<= {settings.share}", _message(bad, held), TIP)
    worst = max((b.count / b.total for b in found), default=0.0)
    shown = ", ".join(f"{split} {len(t)}" for split, t in held.items())
    return passed(
        GATE,
        worst,
        f"<= {settings.share}",
        f"held-out targets lie within the training range as a random split puts them ({shown} items; "
        f"at most {worst:.1%} beyond it)",
        TIP,
    )


def _columns(targets: torch.Tensor) -> torch.Tensor:
    return targets.reshape(len(targets), -1).double()


def _beyond(split: str, train: torch.Tensor, held: torch.Tensor) -> list[Beyond]:
    found = []
    n, m = len(train), len(held)
    for k in range(min(train.shape[1], held.shape[1])):
        column, spread = held[:, k], float(train[:, k].std()) or 1.0
        top, bottom = float(train[:, k].max()), float(train[:, k].min())
        for side, edge, far in (("above", top, column - top), ("below", bottom, bottom - column)):
            count = int((far > 0).sum())
            if count:
                furthest = float(far.max()) / spread
                found.append(Beyond(split, k, side, count, m, edge, furthest, _chance(n, m, count)))
    return found


def _chance(n: int, m: int, j: int) -> float:
    """C(m, j) / C(n + m, j): a random split puts the j most extreme of n + m targets all among the m."""
    if j > m:
        return 0.0
    log = math.lgamma(m + 1) - math.lgamma(m - j + 1) - math.lgamma(n + m + 1) + math.lgamma(n + m - j + 1)
    return math.exp(log)


def _message(bad: list[Beyond], held: dict[str, torch.Tensor]) -> str:
    several = any(t.reshape(len(t), -1).shape[1] > 1 for t in held.values())
    named = "; ".join(
        f"{b.count} of {b.total} {b.split} targets ({b.count / b.total:.1%}){f' of output {b.output}' * several} "
        f"lie {b.side} the training {'maximum' if b.side == 'above' else 'minimum'} {b.edge:.4g}, the furthest "
        f"{b.furthest:.3g} training standard deviations beyond (a random split does this with chance {b.chance:.1e})"
        for b in bad[:4]
    )
    return (
        f"held-out targets lie outside what training holds: {named}. The model never sees a target like "
        "these. Likely causes: data sorted by its target (or by time) and split without shuffling: shuffle "
        "before splitting; a held-out split in other units (raw where training is standardised, or scaled "
        "twice): transform every split alike. If the split is by time on purpose (extrapolation is the task), "
        "waive it with the reason <gates.target_range.waive>."
    )


GATE = Gate(
    name="target_range",
    stage="setup",
    settings=TargetRangeSettings,
    tip=TIP,
    what="held-out regression targets lie within the training range as often as a random split puts them",
    applies=("continuous_targets",),
    checks=(targets_in_range,),
    after=("targets",),
)
