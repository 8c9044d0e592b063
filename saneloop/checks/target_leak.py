"""Gate `target_leak`: no single input feature predicts the target almost perfectly on held-out data.

The target leaks into the inputs when a column derived from the label is kept (an ID sorted by
class, a "label" pixel or a file-name feature, a future measurement): the model learns the leak,
every gate passes, and it fails on real data. Per feature, the simplest predictor that uses that
feature alone (bins of its training values, each predicting its training majority class or mean)
is fitted on the training split and scored on the test split, as a share of the possible gain over
the input-free baseline: 1 is perfect, 0 is no better than predicting the prior. For classes, a
feature is also scored on singling out one class ("is it c?"), as a one-hot label column would. (deepchecks'
FeatureLabelCorrelation scores a feature the same way, with a tree; above 0.8 is suspicious.)
For sequence targets (one per position), a position's input token is scored against its target.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.sample import SplitSample
from .settings import GateSettings, bounded
from .verdict import Verdict, failed, passed, skipped

TIP = "data checks (recipe step 1: become one with the data): no answer in the question"
GATE = "target_leak"
_BINS = 32
_BUDGET = 8_000_000  # feature x bin x class cells counted at once


@dataclass
class TargetLeakSettings(GateSettings):
    # Share of the gain over the input-free baseline that one feature alone may reach on test data
    # (clean digits, diabetes and digit-0-vs-rest: at most ~0.6).
    max_score: float = bounded(0.95, low=0, high=1, above=True)


def leaking_features(train: SplitSample, test: SplitSample, settings: TargetLeakSettings) -> Verdict:
    """Score every feature alone on held-out data; name the ones that predict the target almost perfectly."""
    if train.targets is None or test.targets is None or train.rows.shape[1] != test.rows.shape[1]:
        return skipped(GATE, "targets or inputs of varying shapes: no per-feature predictor to fit", TIP)
    ya, yb = train.targets, test.targets
    xa, xb = train.rows, test.rows
    if ya.dim() == 2 and xa.dim() == 2 and ya.shape[1] == xa.shape[1] and train.categorical:
        xa, xb, ya, yb = xa.reshape(-1, 1), xb.reshape(-1, 1), ya.reshape(-1), yb.reshape(-1)  # token t -> target t
    elif ya.dim() > 1 and ya[0].numel() > 1:
        return skipped(GATE, f"targets of shape {list(ya.shape[1:])} per item: no scalar target to predict", TIP)
    ya, yb = ya.reshape(len(ya)), yb.reshape(len(yb))
    classes = _classes(ya, yb)
    bins_a, bins_b, nbins = _bins(xa, xb)
    if classes:
        score = _class_scores(bins_a, bins_b, nbins, *classes)
    else:
        score = _r2_scores(bins_a, bins_b, nbins, ya.double(), yb.double())
    return _judge(score, settings, "accuracy gain" if classes else "R^2", xa.shape[1])


def _classes(ya: torch.Tensor, yb: torch.Tensor):
    """Integer (or two-valued) targets as class ids 0..C-1, or None for a regression target."""
    both = torch.cat([ya, yb])
    if both.is_floating_point() and len(both.unique()) > 2:
        return None
    values, ids = both.unique(return_inverse=True)
    return ids[: len(ya)], ids[len(ya) :], len(values)


def _bins(xa: torch.Tensor, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per feature [d, rows]: token ids as they are (a small vocab), else the rank bin (0.._BINS-1) of each
    value among the training values (ties share a bin); and the number of bins."""
    if not xa.is_floating_point() and int(xa.min()) >= 0 and max(int(xa.max()), int(xb.max())) < 1024:
        vocab = max(int(xa.max()), int(xb.max())) + 1
        return xa.T.contiguous(), xb.T.contiguous().clamp(0, vocab - 1), vocab
    ordered = xa.double().T.contiguous().sort(1).values  # [d, n]
    n = ordered.shape[1]
    rank = lambda x: torch.searchsorted(ordered, x.double().T.contiguous(), right=True)  # [d, rows]
    to_bin = lambda r: (r * _BINS // (n + 1)).clamp_max(_BINS - 1)
    return to_bin(rank(xa)), to_bin(rank(xb)), _BINS


def _class_scores(bins_a, bins_b, nbins: int, ya, yb, classes: int) -> torch.Tensor:
    """Per feature, the best of: its bin-majority rule for the class, and for each class c its rule for
    "is it c?" (a feature that singles out one class, as a one-hot label column does); each as
    (test accuracy - the input-free accuracy) / (1 - the input-free accuracy)."""
    d, m = bins_a.shape[0], len(yb)
    majority = torch.bincount(ya, minlength=classes).argmax()
    base = float((yb == majority).double().mean())
    share = torch.bincount(yb, minlength=classes).double() / m
    base_c = torch.maximum(share, 1 - share)  # predicting "not c" (or "c") for every test item
    is_c = yb[:, None] == torch.arange(classes)[None, :]  # [m, C]
    scores = []
    step = max(1, _BUDGET // (nbins * classes + m * classes))
    for lo in range(0, d, step):
        a, b = bins_a[lo : lo + step], bins_b[lo : lo + step]
        k = len(a)
        cell = (torch.arange(k)[:, None] * nbins + a) * classes + ya[None, :]
        counts = torch.bincount(cell.flatten(), minlength=k * nbins * classes).reshape(k, nbins, classes)
        rule = torch.where(counts.sum(2) > 0, counts.argmax(2), majority)  # an empty bin predicts the majority
        right = (rule.gather(1, b) == yb[None, :]).double().mean(1)
        multi = (right - base) / max(1 - base, 1e-12)
        says_c = counts * 2 > counts.sum(2, keepdim=True)  # [k, bins, C]: most of the bin is class c
        hit = (says_c.gather(1, b[:, :, None].expand(-1, -1, classes)) == is_c[None]).double().mean(1)  # [k, C]
        single = ((hit - base_c) / (1 - base_c).clamp_min(1e-12)).amax(1)
        scores.append(torch.maximum(multi, single))
    return torch.cat(scores)


def _r2_scores(bins_a, bins_b, nbins: int, ya, yb) -> torch.Tensor:
    """Test R^2 of each feature's bin-mean rule (against the training mean)."""
    d = bins_a.shape[0]
    sums = torch.zeros(d, nbins, dtype=torch.double).scatter_add_(1, bins_a, ya.expand(d, -1))
    counts = torch.zeros(d, nbins, dtype=torch.double).scatter_add_(1, bins_a, torch.ones_like(ya).expand(d, -1))
    means = torch.where(counts > 0, sums / counts.clamp_min(1), ya.mean())
    error = ((means.gather(1, bins_b) - yb[None, :]) ** 2).mean(1)
    total = float(((yb - ya.mean()) ** 2).mean())
    return 1 - error / max(total, 1e-300)


def _judge(score: torch.Tensor, s: TargetLeakSettings, kind: str, features: int) -> Verdict:
    best = int(score.argmax())
    leaks = (score > s.max_score).nonzero().flatten().tolist()
    details = {"best_feature": best, "best_score": float(score[best]), "leaks": leaks[:50]}
    if not leaks:
        return passed(
            GATE,
            round(float(score[best]), 4),
            f"<= {s.max_score}",
            f"no feature alone predicts the target on test data (best: feature {best}, {kind} "
            f"{float(score[best]):.3f} of {features})",
            TIP,
            **details,
        )
    named = ", ".join(f"feature {j} ({kind} {float(score[j]):.3f})" for j in leaks[:6])
    return failed(
        GATE,
        round(float(score[best]), 4),
        f"<= {s.max_score}",
        f"{len(leaks)} input feature(s) alone predict the target almost perfectly on held-out test data: {named} "
        "(1 = perfect, 0 = no better than the input-free baseline; features are the flattened inputs, "
        "index = position in the flattened item). Likely causes: the label, or something computed from it, "
        "written into the inputs (a label column kept, an ID or file name that encodes the class, a feature "
        "measured after the outcome). A model would learn the leak, not the task. "
        f"<gates.target_leak.max_score={s.max_score}>",
        TIP,
        **details,
    )
