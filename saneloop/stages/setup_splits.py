"""Setup's gates that compare the two splits (split_overlap, split_shift, target_leak, hidden_leak): one bounded
sample of each split, read through `Loaders` as the run reads it, shared by the three."""

from __future__ import annotations

from functools import cache
from typing import Any, Optional

import torch

from ..checks.hidden_leak import GATE as HIDDEN_LEAK
from ..checks.hidden_leak import hidden_leaks
from ..checks.split_overlap import GATE as SPLIT_OVERLAP
from ..checks.split_overlap import overlapping_items
from ..checks.split_shift import GATE as SPLIT_SHIFT
from ..checks.split_shift import shifted_features
from ..checks.target_leak import GATE as TARGET_LEAK
from ..checks.target_leak import leaking_features
from ..data.loaders import Loaders
from ..data.padding import IGNORE_INDEX
from ..data.sample import read_split
from ..record.figures import batch_figure
from ..tasks.base import Task
from .context import RunContext


def run(ctx: RunContext, task: Task, loaders: Loaders) -> Optional[tuple[int, ...]]:
    """The three gates; what split_overlap found for evaluate: the test items with a training copy (None:
    it did not run)."""
    limit = ctx.settings.gates.split_overlap.max_items

    @cache
    def sample(split: str):
        return read_split(loaders, split, limit, ctx.seed)

    def overlap(s):
        verdict = overlapping_items(sample("train"), sample("test"), s)
        _draw_pairs(ctx, task, loaders, verdict.details.get("worst") or [])
        return verdict

    copied = ctx.gates(SPLIT_OVERLAP, overlap).details.get("copied")
    ctx.gates(SPLIT_SHIFT, lambda s: shifted_features(sample("train"), sample("test"), s))
    ctx.gates(TARGET_LEAK, lambda s: leaking_features(sample("train"), sample("test"), s))
    ctx.gates(HIDDEN_LEAK, lambda s: hidden_leaks(sample("train"), sample("test"), s))
    return None if copied is None else tuple(copied)


def _draw_pairs(ctx: RunContext, task: Task, loaders: Loaders, worst: list) -> None:
    """The closest pairs side by side (first item, then its copy), drawn before a failure halts the run."""
    if worst:
        ctx.record.publish(SPLIT_OVERLAP, "split_overlap", lambda: pairs_figure(task, loaders, worst))


def pairs_figure(task: Task, loaders: Loaders, worst: list) -> Any:
    """The pairs (split, i, j) as one batch, each item collated as the run collates it: items of different
    lengths (text lines, token sequences) are padded to the longest (inputs with 0, class targets with the
    ignore index), as a padding collator would batch them together."""
    firsts = [loaders.items(loaders.train_set if s == "train" else loaders.test_set, [i]) for s, i, _ in worst]
    seconds = [loaders.items(loaders.test_set, [j], test=True) for _, _, j in worst]
    pairs = [(a, b) for a, b in zip(firsts, seconds)]
    inputs = padded_stack([t for a, b in pairs for t in (a.first_input, b.first_input)], 0)
    targets = padded_stack([t for a, b in pairs for t in (a.targets, b.targets)], IGNORE_INDEX)
    names = ", ".join(f"{s} {i} / test {j}" for s, i, j in worst)
    return batch_figure(task.view_batch(inputs, targets), f"split_overlap: closest pairs, side by side ({names})")


def padded_stack(tensors: list[torch.Tensor], fill: int) -> torch.Tensor:
    """Batches of one item each, concatenated after padding every axis but the first to the largest
    (floating-point targets are padded with 0: they are never padded by a collator)."""
    shape = [max(t.shape[k] for t in tensors) for k in range(1, tensors[0].dim())]
    value = 0 if tensors[0].is_floating_point() else fill
    out = []
    for t in tensors:
        widths = [w for k in reversed(range(len(shape))) for w in (0, shape[k] - t.shape[k + 1])]
        out.append(torch.nn.functional.pad(t, widths, value=value) if any(widths) else t)
    return torch.cat(out)
