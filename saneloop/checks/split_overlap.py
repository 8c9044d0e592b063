"""Gate `split_overlap`: few test items are copies, or near copies, of training items.

A test set that shares examples with the training set measures memory, not generalisation: a split
made twice with different seeds, data scraped twice, augmented copies of training items in the test
file. Exact copies are found by sorting the decoded inputs; near copies are pairs closer than
`near_ratio` x the typical distance from a training item to its nearest other one (scale-free: the
data's own spacing, as cleanlab's near_duplicate), found by hashing in O(n log n), never by
comparing all pairs.

Real data carries copies too, so the share alone halts only where a split bug puts it (`max_fraction`,
chosen from data below); under it the copies are judged by their effect at `evaluate` (the
`contamination` gate: the metric on the copies against the metric on the rest). Copies within the
test set never halt: a duplicate weighs one example twice, it does not measure memory; the verdict
gives the number of distinct test items.

Shares of test items with a training copy, measured (issue 22; near_ratio 0.25, common items apart):
split bugs: digits split twice 78%, diabetes split twice 68% (each split standardised on its own, so
copies are near, not exact: 13% at the old near_ratio 0.13), Tiny Shakespeare windows split twice
89%, half the test set drawn from training 50%. Real data: the zoo's clean sets and the bundled
digits, diabetes and Shakespeare windows 0%; the play's lines (hf_gpt2, /work/shared's corpus) 0.5%,
cut to 16 characters 1.9%, to 8 characters 13.5%; random 16- and 32-character windows split at
random 2.0% and 1.9%; CIFAR-10's test images 3.3%, CIFAR-100's 10% (ciFAIR). The bar, 20%, is 2.5x
under the least a split bug made and 2x over the most real data carried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..data.sample import SplitSample
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, relative_margin
from .measure.neighbours import close_pairs, exact_groups, nearest

TIP = "data checks (recipe step 1: become one with the data): the test set is unseen"
_LISTED = 6


@dataclass
class SplitOverlapSettings(GateSettings):
    # Items read per split for the data gates (split_overlap, split_shift, target_leak share one
    # sample of the largest of their max_items); a larger split is sampled uniformly. null: all.
    max_items: Optional[int] = bounded(20000, low=2)
    # A near copy is closer than this times the median distance from a training item to its nearest
    # other one. The closest clean pairs: digits 0.45, diabetes 0.53, the zoo's sets none under 0.3;
    # diabetes split twice (each split standardised on its own) puts its copies at 0.10-0.27.
    near_ratio: float = bounded(0.25, low=0, high=1)
    # Largest share of test items with a copy in the training set before setup halts: 20%. Split bugs
    # made 50-89%, real data 0-13.5% (CIFAR-100: 10%): see the module's docstring. Under it, copies are
    # judged by what they do to the metric (`contamination`, at evaluate). Copies within the test set
    # are reported, never counted.
    max_fraction: float = bounded(0.2, low=0, high=1)
    queries: int = bounded(128, low=1)  # training items whose nearest neighbour sets the typical distance
    # An exact item that occurs more than this many times in train and test together is a common one (a
    # speaker's name on its own line, a stock phrase): its repeats are reported, not counted. A split made
    # twice or data scraped twice gives 2.
    max_repeats: int = bounded(3, low=2)


def overlapping_items(train: SplitSample, test: SplitSample, settings: SplitOverlapSettings) -> Verdict:
    """Exact and near copies between the splits and within the test split, with a few index pairs."""
    a, b = _same_width(train.rows, test.rows)
    rows, n = torch.cat([a, b]), len(a)
    ids = exact_groups(rows)
    # An item that occurs more than `max_repeats` times in the data is a common one (a speaker's name on
    # its own line, boilerplate), not a copy made by a split: it is counted apart, never halts.
    repeats = torch.bincount(ids)
    common = repeats[ids] > settings.max_repeats
    first_train = {int(g): i for i, g in reversed(list(enumerate(ids[:n].tolist())))}
    exact = [(first_train[int(g)], j) for j, g in enumerate(ids[n:].tolist()) if int(g) in first_train]
    exact_test = _repeated_within(ids[n:])
    skipped = len({j for _, j in exact if common[n + j]} | {k for p in exact_test for k in p if common[n + k]})
    exact = [(i, j) for i, j in exact if not common[n + j]]
    exact_test = [(i, j) for i, j in exact_test if not common[n + i]]
    # The training set's own spacing: copies in the test set cannot pull it down, a test set in other
    # units cannot blow it up.
    typical = _typical_distance(a, settings.queries)
    radius = settings.near_ratio * typical
    pairs = _close(rows, radius).tolist()
    near = [(i, j - n) for i, j in pairs if i < n <= j]
    near_test = [(i - n, j - n) for i, j in pairs if i >= n]
    found = _Found(exact, near, exact_test, near_test, typical, radius, skipped)
    return _judge(found, train, test, settings)


@dataclass
class _Found:
    exact: list[tuple[int, int]]  # (train row, test row)
    near: list[tuple[int, int]]
    exact_test: list[tuple[int, int]]  # (test row, test row)
    near_test: list[tuple[int, int]]
    typical: float
    radius: float
    common: int = 0  # test items equal to an item that occurs more than max_repeats times


def _judge(found: _Found, train: SplitSample, test: SplitSample, settings: SplitOverlapSettings) -> Verdict:
    m = len(test.rows)
    copied = sorted({j for _, j in found.exact + found.near})
    named = lambda pairs, s1, s2: [(int(s1.indices[i]), int(s2.indices[j])) for i, j in pairs[:_LISTED]]
    details = {
        "exact": named(found.exact, train, test),
        "near": named(found.near, train, test),
        "within_test": named(found.exact_test + found.near_test, test, test),
        "typical_distance": found.typical,
        "radius": found.radius,
        "worst": _worst(found, train, test),
        "copied": [int(test.indices[j]) for j in copied],  # every test item with a training copy, for evaluate
        "distinct": m - len({j for _, j in found.exact_test + found.near_test}),
    }
    what = _described(found, len(copied), m, details["distinct"], settings) + _seen(train, test)
    bar = settings.max_fraction * m
    if len(copied) <= bar:
        later = " (judged by their effect on the metric at evaluate: contamination)" if copied else ""
        return passed(
            GATE,
            len(copied),
            f"<= {settings.max_fraction:g} x {m}",
            what + later,
            TIP,
            margin=relative_margin(len(copied), bar),
            **details,
        )
    inner = f"; (test, test) pairs {details['within_test']}" if details["within_test"] else ""
    return failed(
        GATE,
        len(copied),
        f"<= {settings.max_fraction:g} x {m}",
        f"{what}: {len(copied) / m:.0%} of the test set, a share real data does not carry (a split bug's; real "
        f"data: up to ~10%). (train, test) index pairs {details['exact'] or details['near']}{inner}. Likely "
        "causes: the split made twice (two random splits with different seeds, or split before de-duplicating), "
        "the same data scraped or downloaded twice, augmented or re-encoded copies of training items in the "
        "test set, a test file drawn from the training file. The test metric then measures memory. "
        "De-duplicate, then split once. "
        f"<gates.split_overlap.near_ratio={settings.near_ratio}, gates.split_overlap.max_fraction="
        f"{settings.max_fraction}>",
        TIP,
        **details,
    )


def _described(found: _Found, copied: int, m: int, distinct: int, settings: SplitOverlapSettings) -> str:
    within = len(found.exact_test) + len(found.near_test)
    return (
        f"{copied} of {m} test items have a copy in the training set ({len(found.exact)} exact, "
        f"{len(found.near)} near pairs: closer than {settings.near_ratio} x {found.typical:.4g}, the median "
        "distance from a training item to its nearest other one)"
        + (
            f"; {within} pairs within the test set: {distinct} distinct test items of {m} (a duplicate weighs "
            "its item twice; it does not halt)"
            if within
            else ""
        )
        + (
            f"; {found.common} test items repeat a common item (more than {settings.max_repeats} times in the "
            "data), not counted <gates.split_overlap.max_repeats>"
            if found.common
            else ""
        )
    )


def _same_width(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a.dtype != b.dtype:
        a, b = a.double(), b.double()
    width = max(a.shape[1], b.shape[1])
    pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[1]))
    return pad(a), pad(b)


def _repeated_within(ids: torch.Tensor) -> list[tuple[int, int]]:
    first: dict[int, int] = {}
    pairs = []
    for j, g in enumerate(ids.tolist()):
        if g in first:
            pairs.append((first[g], j))
        else:
            first[g] = j
    return pairs


def _close(rows: torch.Tensor, radius: float) -> torch.Tensor:
    """Pairs closer than `radius`. Token ids differ by at least sqrt(2) (one position): below that only
    exact copies exist, and none are searched for."""
    if radius <= 0 or (not rows.is_floating_point() and radius <= 2**0.5):
        return torch.zeros(0, 2, dtype=torch.long)
    return close_pairs(rows, radius)


def _typical_distance(train: torch.Tensor, queries: int) -> float:
    """Median distance from (up to `queries`) training items, spread evenly, to their nearest other one
    (identical copies excluded)."""
    picks = torch.linspace(0, len(train) - 1, min(queries, len(train))).round().long().unique()
    d = nearest(train[picks], train)
    d = d[torch.isfinite(d)]
    return float(d.median()) if len(d) else 0.0


def _worst(found: _Found, train: SplitSample, test: SplitSample) -> list[tuple[str, int, int]]:
    """Up to 8 pairs for the figure: exact ones first, then near ones (dataset indices)."""
    pairs = [("train", i, j) for i, j in found.exact + found.near] + [
        ("test", i, j) for i, j in found.exact_test + found.near_test
    ]
    return [
        (split, int((train if split == "train" else test).indices[i]), int(test.indices[j]))
        for split, i, j in pairs[:8]
    ]


def _seen(train: SplitSample, test: SplitSample) -> str:
    if train.fraction >= 1 and test.fraction >= 1:
        return ""
    return (
        f" (sampled {len(train.rows)} of {train.length} training and {len(test.rows)} of {test.length} test "
        f"items: a copy is seen with probability {train.fraction * test.fraction:.2f}) <gates.split_overlap.max_items>"
    )


GATE = Gate(
    name="split_overlap",
    stage="setup",
    settings=SplitOverlapSettings,
    tip=TIP,
    what="few test items are exact or near copies of training items (copies within the test set are reported)",
    checks=(overlapping_items,),
    figures=("split_overlap",),
    after=("inputs_finite",),
)
