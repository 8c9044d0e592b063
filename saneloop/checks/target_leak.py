"""Gate `target_leak`: no single input feature gives the target away on held-out data.

The target leaks into the inputs when a column derived from the label is kept (the label column
itself, a one-hot of it, a "label" pixel, the target copied in other units): the model learns the
leak, every gate passes, and it fails on real data. For classes, a label-like feature (at most 2 x
the classes distinct values) is scored by its values alone (each training value predicts its
majority class, fitted on training, scored on test) as a share of the gain over the input-free
baseline, 1 perfect, and also on singling out one class ("is it c?"), as a one-hot column would.
For a regression target, a feature that is an affine copy of the target (held-out R^2 ~ 1; with
several targets per item, of any one of them). A
feature that is merely very predictive (iris' petal width, an area from its radius) is not a
leak; the bar is a copy. (deepchecks' FeatureLabelCorrelation scores a feature with a tree.) For
sequence targets (one per position), a position's input token is scored against its target.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.sample import SplitSample
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin, skipped

TIP = "data checks (recipe step 1: become one with the data): no answer in the question"
_BUDGET = 8_000_000  # feature x bin x class cells counted at once
IGNORED = -100  # cross-entropy's ignore_index: padding, prompt tokens


MAX_POSITIONS = 131072  # token positions scored per split (a language model's windows flattened)


@dataclass
class TargetLeakSettings(GateSettings):
    # Share of the gain over the input-free baseline that one label-like feature (at most 2 x the
    # classes distinct values) reaches on test data by its values alone (clean digits and tokens: <= 0.45).
    max_score: float = bounded(0.95, low=0, high=1, above=True)
    # Held-out R^2 of the best affine function of one feature: a copy of the target up to units. A
    # feature that determines the target by a law (area from radius: 0.974) is not a copy.
    max_r2: float = bounded(0.999, low=0, high=1, above=True)


def leaking_features(train: SplitSample, test: SplitSample, settings: TargetLeakSettings) -> Verdict:
    """Score every feature alone on held-out data; name the ones that give the target away."""
    if train.targets is None or test.targets is None or train.rows.shape[1] != test.rows.shape[1]:
        return skipped(GATE, "targets or inputs of varying shapes: no per-feature predictor to fit", TIP)
    ya, yb = train.targets, test.targets
    xa, xb = train.rows, test.rows
    if ya.dim() == 2 and xa.dim() == 2 and ya.shape[1] == xa.shape[1] and train.categorical:
        xa, xb, ya, yb = xa.reshape(-1, 1), xb.reshape(-1, 1), ya.reshape(-1), yb.reshape(-1)  # token t -> target t
        xa, ya, xb, yb = (_thinned(t) for t in (xa, ya, xb, yb))  # a million positions say no more than 100k
    elif ya.dim() == 2 and ya.shape[1] > 1 and ya.is_floating_point() and len(torch.cat([ya, yb]).unique()) > 2:
        return _per_output(xa, xb, ya, yb, settings)  # several regression targets per item: each judged
    elif ya.dim() > 1 and ya[0].numel() > 1:
        return skipped(GATE, f"targets of shape {list(ya.shape[1:])} per item: no scalar target to predict", TIP)
    ya, yb = ya.reshape(len(ya)), yb.reshape(len(yb))
    if not ya.is_floating_point():  # ignored targets (-100: padding, prompts) say nothing of the label
        xa, ya, xb, yb = xa[ya != IGNORED], ya[ya != IGNORED], xb[yb != IGNORED], yb[yb != IGNORED]
    classes = _classes(ya, yb)
    if classes is None:
        score = _affine_r2(xa.double(), xb.double(), ya.double(), yb.double())
        return _judge(score, settings.max_r2, "R^2 of an affine fit", xa.shape[1])
    like = _distinct(xa) <= 2 * classes[2]  # label-like features only: the rest cannot be a label column
    score = torch.zeros(xa.shape[1], dtype=torch.double)
    if bool(like.any()):
        values_a, values_b, nvalues = _values(xa[:, like], xb[:, like])
        score[like] = _class_scores(values_a, values_b, nvalues, *classes)
    return _judge(score, settings.max_score, "accuracy gain", xa.shape[1])


def _thinned(t: torch.Tensor) -> torch.Tensor:
    """Every k-th row, at most MAX_POSITIONS of them: an accuracy over 100k positions has a standard
    error under 0.002, far below any bar here."""
    return t[:: max(1, -(-len(t) // MAX_POSITIONS))]


def _classes(ya: torch.Tensor, yb: torch.Tensor):
    """Integer (or two-valued) targets as class ids 0..C-1, or None for a regression target."""
    both = torch.cat([ya, yb])
    if both.is_floating_point() and len(both.unique()) > 2:
        return None
    values, ids = both.unique(return_inverse=True)
    return ids[: len(ya)], ids[len(ya) :], len(values)


def _distinct(x: torch.Tensor) -> torch.Tensor:
    """Each feature's number of distinct training values."""
    ordered = x.sort(0).values
    return (ordered[1:] != ordered[:-1]).sum(0) + 1


def _values(xa: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per feature [d, rows]: an id per distinct training value (its rank), test values never seen in
    training get one id of their own (n + 1); and the number of ids."""
    ordered = xa.double().T.contiguous().sort(1).values  # [d, n]
    n = ordered.shape[1]
    ids = lambda x: torch.searchsorted(ordered, x.double().T.contiguous(), right=True)  # [d, rows]
    seen = torch.searchsorted(ordered, xb.double().T.contiguous(), right=False) < ids(xb)
    return ids(xa), torch.where(seen, ids(xb), torch.full_like(ids(xb), n + 1)), n + 2


def _class_scores(bins_a, bins_b, nbins: int, ya, yb, classes: int) -> torch.Tensor:
    """Per feature, the best of: its value-majority rule for the class, and for each class c its rule for
    "is it c?" (a feature that singles out one class, as a one-hot label column does); each as
    (accuracy - the input-free accuracy) / (1 - the input-free accuracy), on the test split and on the
    training split it was fitted on, the lower of the two (a copy of the label is perfect on both; a
    small test set can be perfect by luck)."""
    d = bins_a.shape[0]
    majority = torch.bincount(ya, minlength=classes).argmax()
    scores = []
    step = max(1, _BUDGET // (nbins * classes + (len(ya) + len(yb)) * classes))
    for lo in range(0, d, step):
        a, b = bins_a[lo : lo + step], bins_b[lo : lo + step]
        k = len(a)
        cell = (torch.arange(k)[:, None] * nbins + a) * classes + ya[None, :]
        counts = torch.bincount(cell.flatten(), minlength=k * nbins * classes).reshape(k, nbins, classes)
        rules = (torch.where(counts.sum(2) > 0, counts.argmax(2), majority), counts * 2 > counts.sum(2, keepdim=True))
        scores.append(
            torch.minimum(_rule_score(rules, b, yb, majority, classes), _rule_score(rules, a, ya, majority, classes))
        )
    return torch.cat(scores)


def _rule_score(rules, bins: torch.Tensor, y: torch.Tensor, majority, classes: int) -> torch.Tensor:
    """The better of the class rule and the best "is it c?" rule on one split, as a share of the gain."""
    rule, says_c = rules  # [k, bins]; [k, bins, C]: most of the bin is class c
    base = float((y == majority).double().mean())
    multi = ((rule.gather(1, bins) == y[None, :]).double().mean(1) - base) / max(1 - base, 1e-12)
    share = torch.bincount(y, minlength=classes).double() / len(y)
    base_c = torch.maximum(share, 1 - share)  # predicting "not c" (or "c") for every item
    is_c = y[:, None] == torch.arange(classes)[None, :]  # [rows, C]
    hit = (says_c.gather(1, bins[:, :, None].expand(-1, -1, classes)) == is_c[None]).double().mean(1)  # [k, C]
    return torch.maximum(multi, ((hit - base_c) / (1 - base_c).clamp_min(1e-12)).amax(1))


def _affine_r2(xa: torch.Tensor, xb: torch.Tensor, ya: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """R^2 of y ~ slope * x + intercept, fitted per feature on the training split: the lower of the test
    and the training R^2."""
    xc, yc = xa - xa.mean(0), ya - ya.mean()
    slope = (xc * yc[:, None]).sum(0) / (xc**2).sum(0).clamp_min(1e-300)
    r2 = lambda x, y: (
        1
        - ((ya.mean() + slope[None, :] * (x - xa.mean(0)) - y[:, None]) ** 2).mean(0)
        / max(float(((y - ya.mean()) ** 2).mean()), 1e-300)
    )
    return torch.minimum(r2(xb, yb), r2(xa, ya))


def _per_output(xa: torch.Tensor, xb: torch.Tensor, ya: torch.Tensor, yb: torch.Tensor, settings) -> Verdict:
    """Regression targets [n, k]: each output against each feature (an affine copy of any one output is a
    leak); judged on the output that one feature predicts best."""
    scores = torch.stack(
        [_affine_r2(xa.double(), xb.double(), ya[:, j].double(), yb[:, j].double()) for j in range(ya.shape[1])]
    )
    worst = int(scores.nan_to_num(nan=-torch.inf).amax(1).argmax())
    return _judge(scores[worst], settings.max_r2, f"R^2 of an affine fit to output {worst}", xa.shape[1])


def _judge(score: torch.Tensor, limit: float, kind: str, features: int) -> Verdict:
    best = int(score.argmax())
    leaks = (score > limit).nonzero().flatten().tolist()
    details = {"best_feature": best, "best_score": float(score[best]), "leaks": leaks[:50]}
    if not leaks:
        return passed(
            GATE,
            round(float(score[best]), 4),
            f"<= {limit}",
            f"no feature alone gives the target away on test data (best: feature {best}, {kind} "
            f"{float(score[best]):.3f} of {features})",
            TIP,
            # measured from perfect: R^2 0.974 against 0.999 is 0.026 of the variance left, 26x the 0.001
            margin=relative_margin(1 - float(score[best]), 1 - limit, below=False),
            **details,
        )
    named = ", ".join(f"feature {j} ({kind} {float(score[j]):.3f})" for j in leaks[:6])
    return failed(
        GATE,
        round(float(score[best]), 4),
        f"<= {limit}",
        f"{len(leaks)} input feature(s) alone give the target away on held-out test data: {named} "
        "(1 = perfect, 0 = no better than the input-free baseline; features are the flattened inputs, "
        "index = position in the flattened item). Likely causes: the label, or something computed from it, "
        "written into the inputs (a label column kept, an ID or file name that encodes the class, a feature "
        "measured after the outcome). A model would learn the leak, not the task. "
        "<gates.target_leak.max_score, gates.target_leak.max_r2>",
        TIP,
        **details,
    )


GATE = Gate(
    name="target_leak",
    stage="setup",
    settings=TargetLeakSettings,
    tip=TIP,
    what="no single feature predicts the target almost perfectly on held-out data",
    checks=(leaking_features,),
    after=("inputs_finite",),
)
