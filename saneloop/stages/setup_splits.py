"""Setup's gates that compare the two splits (split_overlap, split_shift, target_leak, hidden_leak): one bounded
sample of each split, read through `Loaders` as the run reads it, shared by the three."""

from __future__ import annotations

from functools import cache

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
from ..data.sample import read_split
from ..record.figures import batch_figure
from ..tasks.base import Task
from .context import RunContext


def run(ctx: RunContext, task: Task, loaders: Loaders) -> None:
    limit = ctx.settings.gates.split_overlap.max_items

    @cache
    def sample(split: str):
        return read_split(loaders, split, limit, ctx.seed)

    def overlap(s):
        verdict = overlapping_items(sample("train"), sample("test"), s)
        _draw_pairs(ctx, task, loaders, verdict.details.get("worst") or [])
        return verdict

    ctx.gates(SPLIT_OVERLAP, overlap)
    ctx.gates(SPLIT_SHIFT, lambda s: shifted_features(sample("train"), sample("test"), s))
    ctx.gates(TARGET_LEAK, lambda s: leaking_features(sample("train"), sample("test"), s))
    ctx.gates(HIDDEN_LEAK, lambda s: hidden_leaks(sample("train"), sample("test"), s))


def _draw_pairs(ctx: RunContext, task: Task, loaders: Loaders, worst: list) -> None:
    """The closest pairs side by side (first item, then its copy), drawn before a failure halts the run."""
    if not worst:
        return

    def draw():
        firsts = [loaders.items(loaders.train_set if s == "train" else loaders.test_set, [i]) for s, i, _ in worst]
        seconds = [loaders.items(loaders.test_set, [j], test=True) for _, _, j in worst]
        inputs = torch.cat([torch.cat([a.first_input, b.first_input]) for a, b in zip(firsts, seconds)])
        targets = torch.cat([torch.cat([a.targets, b.targets]) for a, b in zip(firsts, seconds)])
        names = ", ".join(f"{s} {i} / test {j}" for s, i, j in worst)
        return batch_figure(task.view_batch(inputs, targets), f"split_overlap: closest pairs, side by side ({names})")

    ctx.record.publish(SPLIT_OVERLAP, "split_overlap", draw)
