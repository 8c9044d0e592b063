"""The baselines stage's second look: `too_good` (a held-out loss near zero within the short run) from
the input_independent verdict, and the `label_noise` report from cross-fitted predictions."""

from __future__ import annotations

import torch
from torch.utils.data import Subset

from ..checks.base.verdict import Verdict, skipped
from ..checks.label_noise import GATE as LABEL_NOISE
from ..checks.label_noise import cross_fitted, likely_mislabelled
from ..checks.too_good import GATE as TOO_GOOD
from ..checks.too_good import too_good_too_fast
from ..data.seeding import seed_everything
from ..data.streams import Stream, generator
from ..record.figures import batch_figure
from .context import Built, RunContext

_CHUNK = 256


def run(ctx: RunContext, built: Built, independent: Verdict) -> None:
    steps = int(independent.details.get("steps", 0))  # input_independent trains until it can decide
    real, zeroed = independent.details.get("real"), independent.details.get("zeroed")
    prior = built.task.expected_init_loss(built.train_summary.targets)[0]
    ctx.gates(TOO_GOOD, lambda s: too_good_too_fast(real, zeroed, prior, steps, s))
    ctx.gates(LABEL_NOISE, lambda s: _label_noise(ctx, built, s))


def _label_noise(ctx: RunContext, built: Built, settings) -> Verdict:
    """Two folds of the training set (of a random sample of `max_items` when it is larger): a copy trained on
    each predicts the other (out of sample)."""
    labels = built.train_summary.targets
    if labels.dim() > 1 and labels[0].numel() > 1 or (labels.is_floating_point() and len(labels.unique()) > 2):
        return skipped(LABEL_NOISE, "not a classification target: no labels to rank")
    loaders, n = built.loaders, len(built.train_set)  # type: ignore[arg-type]
    order = torch.randperm(n, generator=generator(ctx.seed, Stream.LABEL_NOISE_FOLDS))[: settings.max_items]
    half = len(order) // 2
    halves = [order[:half].sort().values, order[half:].sort().values]
    folds = [
        (
            lambda other=other: loaders.train(Subset(built.train_set, other.tolist())),
            lambda mine=mine: (
                loaders.items(built.train_set, mine[k : k + _CHUNK].tolist()) for k in range(0, len(mine), _CHUNK)
            ),
        )
        for mine, other in ((halves[0], halves[1]), (halves[1], halves[0]))
    ]
    seed_everything(ctx.seed, ctx.settings.deterministic)
    optimizer, loss_fn = ctx.builders.optimizer, built.task.loss
    probs = cross_fitted(built.model, folds, loss_fn, optimizer, settings.steps, ctx.device, outputs=ctx.outputs)
    if probs is None:
        return skipped(LABEL_NOISE, "the model's outputs are not class logits: no probabilities to rank")
    positions = torch.cat(halves)
    kept = labels[positions] >= 0  # ignored targets (-100) carry no label to doubt
    verdict = likely_mislabelled(probs[kept], labels[positions][kept], positions[kept])
    _draw(ctx, built, verdict, settings.shown)
    return verdict


def _draw(ctx: RunContext, built: Built, verdict: Verdict, shown: int) -> None:
    worst = (verdict.details.get("worst") or [])[:shown]
    if not worst:
        return

    def draw():
        batch = built.loaders.items(built.train_set, [w["index"] for w in worst])
        title = "label_noise: likely mislabelled, worst first: " + ", ".join(
            f"#{w['index']} {w['label']}->{w['predicted']}" for w in worst
        )
        return batch_figure(built.task.view_batch(batch.first_input, batch.targets), title)

    ctx.record.publish(LABEL_NOISE, "label_noise", draw)
