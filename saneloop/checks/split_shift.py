"""Gate `split_shift`: each input feature has, in the test split, the statistics it has in training.

The test split that skipped a preprocessing step the training split got (not normalised, scaled by
255 twice, raw units), or got a different one (another tokenizer or vocab), gives a model inputs it
never saw: the test metric is then meaningless, and nothing crashes. Per feature, the test mean and
variance are compared with training against their sampling noise (standard errors, the variance's
from the fourth moment), and the share of test values outside the training range (by more than a
tenth of its width) against what an i.i.d. split gives (at most 2 / n_train). With class labels,
means and variances are compared within each class, so other class proportions in the test split are
not a shift. For token ids, the
token frequencies are compared. A feature halts only when the difference is far beyond noise AND
large (scale-free effect sizes), so a big set's tiny, real shifts pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from ..data.sample import SplitSample
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin

TIP = "data checks (recipe step 1: become one with the data): both splits preprocessed alike"
_LISTED = 6


@dataclass
class SplitShiftSettings(GateSettings):
    z: float = bounded(8.0, low=0, above=True)  # standard errors a difference must exceed ("far beyond noise")
    # and it must be large: a mean moved by this many training standard deviations,
    max_mean_shift: float = bounded(0.5, low=0, above=True)
    # a standard deviation this many times larger or smaller,
    max_scale_ratio: float = bounded(2.0, low=1, above=True)
    # a share of test values outside the training range at least this large,
    max_outside: float = bounded(0.25, low=0, high=1, above=True)
    # or, for token ids, a total variation distance between the token frequencies at least this large
    # (Tiny Shakespeare's last 10% against its first 90%: 0.04).
    max_token_tv: float = bounded(0.2, low=0, high=1, above=True)


def shifted_features(train: SplitSample, test: SplitSample, settings: SplitShiftSettings) -> Verdict:
    """Name the input features whose test statistics differ from training far beyond sampling noise."""
    if train.rows.shape[1] != test.rows.shape[1] or not train.rows.shape[1]:
        return passed(GATE, 0, 0, "inputs of different widths per split (padded sequences): not compared", TIP)
    if train.categorical and test.categorical:
        return _tokens(train.rows, test.rows, settings)
    return _features(train.rows.double(), test.rows.double(), settings, _classes(train.targets, test.targets))


def _classes(ya: Optional[torch.Tensor], yb: Optional[torch.Tensor]) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
    """Class ids of both splits when the targets are class labels (one per item), else None."""
    if ya is None or yb is None or ya.dim() != 1 or yb.dim() != 1:
        return None
    both = torch.cat([ya, yb])
    if both.is_floating_point() and len(both.unique()) > 2:
        return None
    ids = both.unique(return_inverse=True)[1]
    return ids[: len(ya)], ids[len(ya) :]


def _moments(a: torch.Tensor, b: torch.Tensor, classes) -> tuple[torch.Tensor, ...]:
    """Mean and variance differences (test - training) with their standard errors, and the training sd.
    With class labels, within each class, weighted by the test split's class shares: a test set with
    other class proportions (a balanced test for an imbalanced training set) is not a shift."""
    groups = [(torch.ones(len(a), dtype=torch.bool), torch.ones(len(b), dtype=torch.bool))]
    if classes is not None:
        ca, cb = classes
        groups = [(ca == c, cb == c) for c in cb.unique() if int((ca == c).sum()) > 1 and int((cb == c).sum()) > 1]
        groups = groups or [(torch.ones(len(a), dtype=torch.bool), torch.ones(len(b), dtype=torch.bool))]
    weights = torch.tensor([float(gb.sum()) for _, gb in groups], dtype=torch.double)
    weights = weights / weights.sum()
    parts = [_one_group(a[ga], b[gb]) for ga, gb in groups]
    total = lambda k, w: sum(wc * p[k] for wc, p in zip(w, parts))
    diff_mean, diff_var = total(0, weights), total(2, weights)
    se_mean, se_var = total(1, weights**2).sqrt(), total(3, weights**2).sqrt()
    var_a, var_b = total(4, weights), total(5, weights)
    return diff_mean, se_mean, diff_var, se_var, var_a.sqrt(), var_b.sqrt()


def _one_group(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(mean diff, its variance, variance diff, its variance, training variance, test variance) per feature."""
    n, m = len(a), len(b)
    mean_a, mean_b, var_a, var_b = a.mean(0), b.mean(0), a.var(0, unbiased=False), b.var(0, unbiased=False)
    # The noise of each difference under "both splits come from one distribution", from the two pooled:
    # a small test split's own moments understate it (40 items in which a rare pixel never lights up
    # have variance 0, and would make the training split's variance look significant by itself).
    both = torch.cat([a, b])
    mean, var = both.mean(0), both.var(0, unbiased=False)
    fourth = ((both - mean) ** 4).mean(0)
    share = 1 / n + 1 / m
    return mean_b - mean_a, var * share, var_b - var_a, (fourth - var**2).clamp_min(0) * share, var_a, var_b


def _features(a: torch.Tensor, b: torch.Tensor, s: SplitShiftSettings, classes=None) -> Verdict:
    n, m = len(a), len(b)
    mean_a, mean_b = a.mean(0), b.mean(0)
    diff_mean, se_mean, diff_var, se_var, scale, sd_b = _moments(a, b, classes)
    z_mean = _z(diff_mean, se_mean)
    z_var = _z(diff_var, se_var)
    shift = diff_mean.abs() / scale.clamp_min(1e-300)
    ratio = torch.where(scale > 0, sd_b / scale.clamp_min(1e-300), torch.ones_like(scale))
    lo, hi = a.min(0).values, a.max(0).values
    margin = 0.1 * (hi - lo)  # beyond the range by a tenth of its width: a discrete feature nudged stays in
    outside = ((b < lo - margin) | (b > hi + margin)).double().mean(0)
    z_out = _z(outside - 2.0 / (n + 1), (2.0 / (n + 1) / m) ** 0.5 + 1e-12)
    moved = (z_mean > s.z) & (shift > s.max_mean_shift)
    scaled = (z_var > s.z) & ((ratio > s.max_scale_ratio) | (ratio < 1 / s.max_scale_ratio))
    out = (z_out > s.z) & (outside >= s.max_outside)
    bad = (moved | scaled | out).nonzero().flatten().tolist()
    worst = int(torch.stack([shift.nan_to_num(), ratio.clamp_min(1e-300).log().abs(), outside]).amax(0).argmax())
    details = {"features": bad[:50], "worst": worst}
    head = f"{a.shape[1]} features, {n} training and {m} test items"
    if not bad:
        return passed(
            GATE,
            0,
            0,
            f"no feature's test statistics differ from training beyond noise ({head}; largest: feature {worst}, "
            f"mean moved {float(shift[worst]):.2g} sd, sd x{float(ratio[worst]):.2g}, {float(outside[worst]):.0%} "
            "outside the training range)",
            TIP,
            margin=_features_margin(s, shift, z_mean, ratio, z_var, outside, z_out),
            **details,
        )
    named = [_feature_line(j, mean_a, mean_b, scale, ratio, outside, a, b) for j in bad[:_LISTED]]
    return _failed(len(bad), f"{len(bad)} of {head} differ far beyond sampling noise: {'; '.join(named)}", s, details)


def _features_margin(s, shift, z_mean, ratio, z_var, outside, z_out) -> float:
    """How far the nearest feature is from failing: a criterion fails only when both its effect and its z
    are past their bars, so its distance is the larger of the two; the gate's, the smallest of those."""

    def away(value: torch.Tensor, bar: float) -> torch.Tensor:
        return (bar - value) / bar

    log_ratio = ratio.clamp_min(1e-300).log().abs()
    each = [
        torch.maximum(away(shift, s.max_mean_shift), away(z_mean, s.z)),
        torch.maximum(away(log_ratio, math.log(s.max_scale_ratio)), away(z_var, s.z)),
        torch.maximum(away(outside, s.max_outside), away(z_out, s.z)),
    ]
    return float(torch.stack(each).nan_to_num(nan=math.inf).amin())


def _feature_line(j, mean_a, mean_b, scale, ratio, outside, a, b) -> str:
    return (
        f"feature {j}: mean {float(mean_a[j]):.3g} in training, {float(mean_b[j]):.3g} in test; sd "
        f"{float(scale[j]):.3g} -> x{float(ratio[j]):.3g}; range [{float(a[:, j].min()):.3g}, "
        f"{float(a[:, j].max()):.3g}] vs [{float(b[:, j].min()):.3g}, {float(b[:, j].max()):.3g}], "
        f"{float(outside[j]):.0%} of test values outside"
    )


def _tokens(a: torch.Tensor, b: torch.Tensor, s: SplitShiftSettings) -> Verdict:
    vocab = int(max(int(a.max()), int(b.max()), 0)) + 1
    p, q = (torch.bincount(x.flatten().clamp_min(0), minlength=vocab).double() for x in (a, b))
    n, m = p.sum(), q.sum()
    p, q = p / n, q / m
    tv = 0.5 * float((p - q).abs().sum())
    noise = float(((p * (1 - p) / n + q * (1 - q) / m).sqrt()).sum()) * 0.5  # TV's scale under no shift
    order = (p - q).abs().argsort(descending=True)[:_LISTED].tolist()
    named = [f"token {t}: {float(p[t]):.2%} of training tokens, {float(q[t]):.2%} of test tokens" for t in order]
    details = {"tokens": order, "total_variation": tv}
    head = f"token frequencies of {int(n)} training and {int(m)} test tokens"
    if not (tv >= s.max_token_tv and tv > s.z * noise):
        margin = max(relative_margin(tv, s.max_token_tv) or -math.inf, relative_margin(tv, s.z * noise) or -math.inf)
        shown = f"< {s.max_token_tv}"
        return passed(GATE, round(tv, 4), shown, f"{head}: total variation {tv:.3f}", TIP, margin=margin, **details)
    return _failed(
        round(tv, 4),
        f"{head} differ by a total variation of {tv:.3f} (noise ~{noise:.3g}): {'; '.join(named)}",
        s,
        details,
    )


def _failed(value, what: str, s: SplitShiftSettings, details: dict) -> Verdict:
    return failed(
        GATE,
        value,
        0,
        f"{what}. Likely causes: the test split skipped a preprocessing step the training split got "
        "(normalisation, scaling to [0, 1], standardising with the training statistics), or got a different "
        "one (another tokenizer or vocab, other units, a transform fitted on the test split), or the two "
        "splits come from different sources. Preprocess both with the same code and the training split's "
        f"statistics. <gates.split_shift.z={s.z}, gates.split_shift.max_mean_shift={s.max_mean_shift}, "
        f"gates.split_shift.max_scale_ratio={s.max_scale_ratio}, gates.split_shift.max_outside={s.max_outside}>",
        TIP,
        **details,
    )


def _z(diff: torch.Tensor, se: torch.Tensor) -> torch.Tensor:
    """|diff| / se; a difference with zero noise is infinitely far beyond it (0 when there is no difference)."""
    z = diff.abs() / se
    return torch.where(diff.abs() == 0, torch.zeros_like(z), z.nan_to_num(nan=math.inf))


GATE = Gate(
    name="split_shift",
    stage="setup",
    settings=SplitShiftSettings,
    tip=TIP,
    what="per feature, the test split's mean, scale and range match training's within sampling noise",
    checks=(shifted_features,),
    after=("inputs_finite",),
)
