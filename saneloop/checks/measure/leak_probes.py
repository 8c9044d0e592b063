"""Leak probes that look where one fixed feature cannot: the presence of a token id anywhere in an item,
and a linear fit on a pair of features. Each is fitted on the training sample and judged on the test
sample (the lower of the two scores, as `target_leak` does: a copy of the label is perfect on both, a
small test set can be perfect by luck), and each has a bounded cost, stated where it is computed.

Scores: for classes, the share of the gain over the input-free baseline (1 perfect, 0 no better than
the majority); for regression, R^2. `Found` names what scored and how.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

CELLS = 8_000_000  # token x class cells scored at once (64 MB as float64): the vocabulary kept within it
PAD_ID = 0  # the split sample writes every padded position (attention mask 0) as 0: never a token here
SHOWN = 50  # the best findings returned, best first


@dataclass(frozen=True)
class Found:
    """The best of one probe: what (a token id, a pair of features), its score, and how it was judged."""

    probe: str  # "token" or "pair"
    what: tuple[int, ...]  # (token id, class) or (feature i, feature j[, output])
    score: float
    kind: str  # "accuracy gain" or "R^2"

    def named(self) -> str:
        if self.probe == "token":
            return f"token id {self.what[0]} present -> class {self.what[1]} ({self.kind} {self.score:.3f})"
        output = f" -> output {self.what[2]}" if len(self.what) > 2 else ""
        return f"features {self.what[0]} + {self.what[1]}{output} ({self.kind} {self.score:.3f})"


def item_classes(ya: torch.Tensor, yb: torch.Tensor) -> Optional[tuple[torch.Tensor, torch.Tensor, int]]:
    """One class per item (integer or two-valued targets [n] or [n, 1]) as ids 0..C-1, or None (sequence or
    regression targets)."""
    if ya.dim() > 2 or (ya.dim() == 2 and ya.shape[1] != 1) or yb.shape[1:] != ya.shape[1:]:
        return None
    values, ids = torch.cat([ya.reshape(-1), yb.reshape(-1)]).unique(return_inverse=True)
    if values.is_floating_point() and len(values) > 2:  # a regression target (two values: a binary label)
        return None
    return ids[: len(ya)], ids[len(ya) :], len(values)


def token_presence(xa, ya, xb, yb, classes: int) -> list[Found]:
    """Per token id (wherever it sits in the item; the padding id skipped), the best of: "present -> class
    c" for each c, and "present -> its commonest class, absent -> the absentees' commonest". Cost: one sort
    of the n x T (item, token) pairs per split, then vocabulary x classes counts; a vocabulary of more
    than CELLS / classes ids keeps the ids in most training items. Returns every token, best first."""
    vocab = int(max(int(xa.max()), int(xb.max()))) + 1
    pa, pb = _present(xa, ya, vocab, classes), _present(xb, yb, vocab, classes)  # [V, C] items holding t
    keep = _kept_tokens(pa, classes)
    pa, pb = pa[keep], pb[keep]
    na, nb = _counts(ya, classes), _counts(yb, classes)
    rules = (pa.argmax(1), (na[None, :] - pa).argmax(1))  # fitted on training: present -> ..., absent -> ...
    majority = int(na.argmax())
    score = torch.minimum(_gain(pa, na, rules, majority), _gain(pb, nb, rules, majority))  # [V', C + 1]
    best, which = score.max(1)
    order = best.argsort(descending=True)[:SHOWN]
    said = [_said(int(which[t]), int(rules[0][t]), classes) for t in order]
    return [Found("token", (int(keep[t]), c), float(best[t]), "accuracy gain") for t, c in zip(order, said)]


def _present(x: torch.Tensor, y: torch.Tensor, vocab: int, classes: int) -> torch.Tensor:
    """[vocab, classes]: how many items of each class hold each token id at least once."""
    item = torch.arange(len(x))[:, None].expand_as(x)
    pairs = torch.unique((item * vocab + x).flatten())  # one (item, token) pair per distinct token of an item
    token, owner = pairs % vocab, pairs // vocab
    cell = token * classes + y[owner]
    return torch.bincount(cell, minlength=vocab * classes).reshape(vocab, classes).double()


def _kept_tokens(pa: torch.Tensor, classes: int) -> torch.Tensor:
    """The token ids scored: never the padding id; at most CELLS / classes of them, those in most items."""
    held = pa.sum(1)
    held[PAD_ID] = -1
    limit = max(1, CELLS // max(classes, 1))
    kept = held.argsort(descending=True)[:limit]
    return kept[held[kept] > 0].sort().values


def _counts(y: torch.Tensor, classes: int) -> torch.Tensor:
    return torch.bincount(y, minlength=classes).double()


def _gain(present: torch.Tensor, totals: torch.Tensor, rules, majority: int) -> torch.Tensor:
    """[V, C + 1] on one split: for each class c, "present -> c" scored on "is it c?" against predicting
    the commoner answer for every item; last, the two-sided class rule against the majority class."""
    n = float(totals.sum())
    holders = present.sum(1, keepdim=True)  # items holding the token
    right = present + (n - totals[None, :]) - (holders - present)  # c's holders + non-c items without it
    share = totals / n
    base = torch.maximum(share, 1 - share)[None, :]
    is_c = (right / n - base) / (1 - base).clamp_min(1e-12)
    on, off = rules
    absent = totals[None, :] - present
    hits = present.gather(1, on[:, None]) + absent.gather(1, off[:, None])
    base_m = float(totals[majority]) / n
    multi = (hits / n - base_m) / max(1 - base_m, 1e-12)
    return torch.cat([is_c, multi], 1)


def _said(which: int, present_class: int, classes: int) -> int:
    """The class the best rule names: c for "present -> c", the present-class of the two-sided rule (last)."""
    return present_class if which == classes else which


def best_pairs(xa, ya, xb, yb, top_k: int) -> list[Found]:
    """R^2 of y ~ a + b x_i + c x_j, least squares on the training sample, for every pair of the `top_k`
    features most correlated with y (on training); the lower of the test and training R^2. Cost: one
    correlation per feature (n x d), then top_k (top_k - 1) / 2 fits of n x 3. Best first."""
    xa, xb, ya, yb = xa.double(), xb.double(), ya.double(), yb.double()
    mean, std = xa.mean(0), xa.std(0)
    varies = std > 1e-12 * (1 + mean.abs())
    corr = ((xa - mean) * (ya - ya.mean())[:, None]).mean(0) / (std * ya.std()).clamp_min(1e-300)
    corr = torch.where(varies, corr.abs().nan_to_num(0.0), torch.full_like(corr, -1.0))
    top = corr.topk(min(top_k, int(varies.sum()))).indices.sort().values
    if len(top) < 2:
        return []
    pairs = torch.combinations(top, 2)
    fit = _pair_design(xa, pairs, mean, std)
    coef = torch.linalg.lstsq(fit, ya[None, :, None].expand(len(pairs), -1, 1)).solution
    r2 = torch.minimum(_r2(_pair_design(xb, pairs, mean, std) @ coef, yb), _r2(fit @ coef, ya))
    order = r2.argsort(descending=True)[:SHOWN]
    return [Found("pair", (int(pairs[p, 0]), int(pairs[p, 1])), float(r2[p]), "R^2") for p in order]


def _pair_design(x: torch.Tensor, pairs: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """[P, n, 3]: a constant and the pair's two features, standardised by the training sample's scale."""
    z = (x - mean) / std.clamp_min(1e-300)
    return torch.stack([torch.ones(len(pairs), len(x), dtype=x.dtype), z[:, pairs[:, 0]].T, z[:, pairs[:, 1]].T], -1)


def _r2(predicted: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    residual = ((predicted.squeeze(-1) - y[None, :]) ** 2).mean(1)
    return 1 - residual / max(float(((y - y.mean()) ** 2).mean()), 1e-300)
