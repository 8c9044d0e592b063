"""Gate `hidden_leak`: no token id anywhere in an item, and no pair of features, gives the target away.

`target_leak` scores one fixed feature at a time, so two leaks pass it: a label written as one token
whose position varies (at the end of each padded text, after a prefix of varying length), and a target
computed from two columns (a total kept beside its parts: each part alone explains little). Two probes,
each fitted on the training sample and judged on the test sample (`measure.leak_probes`):

- token presence (integer inputs, one class per item): does holding token t, wherever it sits, predict
  the class (or single out one class) almost perfectly? The padding id is skipped.
- feature pairs (regression targets): a least-squares fit on each pair of the `top_k` features most
  correlated with the target. A law measured with noise (a radius from a perimeter and a shape: R^2
  0.998 on breast cancer) is not a leak; the bar is a fixed rule, R^2 ~ 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..data.sample import SplitSample
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin, skipped
from .measure.leak_probes import Found, best_pairs, item_classes, token_presence

TIP = "data checks (recipe step 1: become one with the data): no answer in the question, wherever it hides"
MAX_OUTPUTS = 16  # regression outputs probed (each its own top_k pairs)


@dataclass
class HiddenLeakSettings(GateSettings):
    # Share of the gain over the input-free baseline that the presence of one token id reaches, on training
    # and on test (clean text: speakers 0.18, majority-token sequences 0.13; a label token: 1.0).
    max_score: float = bounded(0.95, low=0, high=1, above=True)
    # R^2 of a linear fit on two features, on training and on test (clean laws: 0.998 breast cancer's
    # radius from perimeter and shape; diabetes 0.46; a target that is the sum of two columns: 1.0).
    max_r2: float = bounded(0.9999, low=0, high=1, above=True)
    # The features paired: those most correlated with the target (top_k (top_k - 1) / 2 fits of n x 3).
    top_k: int = bounded(12, low=2, high=64)


def hidden_leaks(train: SplitSample, test: SplitSample, settings: HiddenLeakSettings) -> Verdict:
    """The token and pair probes that apply to these targets; fails naming what crosses its bar."""
    found, bars, what = probes(train, test, settings)
    if found is None:
        return skipped(GATE, what, TIP)
    return judged(GATE, found, bars, what, TIP)


def probes(
    train: SplitSample, test: SplitSample, settings: HiddenLeakSettings
) -> tuple[Optional[list[Found]], dict[str, float], str]:
    """(every probe's best findings, each probe's bar, what was probed), or (None, {}, why none applies)."""
    ya, yb = train.targets, test.targets
    if ya is None or yb is None or not len(ya) or not len(yb):
        return None, {}, "no targets read in a split: nothing to probe"
    classes = item_classes(ya, yb)
    if classes is not None and train.categorical and test.categorical:  # any widths: presence, not position
        found = token_presence(train.rows, classes[0], test.rows, classes[1], classes[2])
        return found, {"token": settings.max_score}, "the presence of each token id, wherever it sits"
    if train.rows.shape[1] != test.rows.shape[1]:
        return None, {}, "inputs of different widths in the two splits: no feature pairs to fit"
    if ya.is_floating_point() and ya.dim() <= 2 and len(torch.cat([ya, yb]).unique()) > 2:
        outputs = 1 if ya.dim() == 1 else min(ya.shape[1], MAX_OUTPUTS)
        found = [f for j in range(outputs) for f in _pairs_of_output(train, test, j, settings.top_k)]
        found.sort(key=lambda f: -f.score)
        return found, {"pair": settings.max_r2}, f"every pair of the {settings.top_k} features likeliest to matter"
    return None, {}, "neither class labels over token inputs nor a regression target: no probe applies"


def _pairs_of_output(train: SplitSample, test: SplitSample, j: int, top_k: int) -> list[Found]:
    ya, yb = train.targets, test.targets
    assert ya is not None and yb is not None
    ya, yb = (ya.reshape(len(ya), -1)[:, j], yb.reshape(len(yb), -1)[:, j])
    found = best_pairs(train.rows, ya, test.rows, yb, top_k)
    if train.targets is not None and train.targets.dim() == 2 and train.targets.shape[1] > 1:
        found = [Found(f.probe, (*f.what, j), f.score, f.kind) for f in found]
    return found


def judged(gate: str, found: list[Found], bars: dict[str, float], what: str, tip: str, note: str = "") -> Verdict:
    """Pass naming the best finding, or fail naming every one over its probe's bar."""
    if not found:
        return passed(gate, None, "", f"{what}: nothing to score{note}", tip)
    best = found[0]
    bar = bars[best.probe]
    leaks = [f for f in found if f.score > bars[f.probe]]
    details = {"best": best.named(), "best_score": best.score, "leaks": [f.named() for f in leaks[:20]]}
    if not leaks:
        return passed(
            gate,
            round(best.score, 6),
            f"<= {bar}",
            f"{what}: none gives the target away on test data (best: {best.named()}){note}",
            tip,
            margin=relative_margin(1 - best.score, 1 - bar, below=False),
            **details,
        )
    named = "; ".join(f.named() for f in leaks[:6])
    return failed(
        gate,
        round(best.score, 6),
        f"<= {bar}",
        f"{len(leaks)} finding(s) give the target away on held-out test data: {named} (1 = perfect; a token "
        "is counted wherever it sits in the item, padding left out; features are the flattened inputs). "
        "Likely causes: the label written into the text (a tag, a file name, a closing token), a total "
        f"kept beside its parts, a column computed from the outcome. A model would learn the leak.{note} "
        f"<gates.{gate}.max_score, gates.{gate}.max_r2>",
        tip,
        **details,
    )


GATE = Gate(
    name="hidden_leak",
    stage="setup",
    settings=HiddenLeakSettings,
    tip=TIP,
    what="no token id wherever it sits, and no pair of features, predicts the target almost perfectly",
    applies=("leak_probe",),
    checks=(hidden_leaks,),
    after=("target_leak",),
)
