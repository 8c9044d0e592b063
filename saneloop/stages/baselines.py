"""Stage `baselines`: before trusting any loss curve, show the model learns something from its inputs
that it cannot learn from their absence (tip 7: an input-independent baseline)."""
from __future__ import annotations

import copy
import itertools
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader

from ..build import build_optimizer
from ..checks import learns_from_inputs
from ..checks.input_independent import Settings
from ..checks.verdict import Verdict
from ..context import RunContext
from ..loop import outputs_of, plain_steps
from ..seeding import seed_everything

NAME = "baselines"


def run(ctx: RunContext) -> None:
    ctx.gate("input_independent", lambda s: _input_independent(ctx, s))


def _input_independent(ctx: RunContext, settings: Settings) -> Verdict:
    """Two copies of the run's initialised model (bias set), trained on the same batches, one fed zeros.
    Their losses are compared on test batches: held out, and no gate tunes anything on them."""
    return learns_from_inputs(_held_out_loss(ctx, settings, zeroed=False),
                              _held_out_loss(ctx, settings, zeroed=True), settings)


def _held_out_loss(ctx: RunContext, settings: Settings, zeroed: bool) -> float:
    model = copy.deepcopy(ctx.model)
    seed_everything(ctx.seed, ctx.cfg.deterministic)  # the same Dropout draws for both copies
    optimizer = build_optimizer(ctx.cfg, list(model.parameters()), lr=settings.lr)
    plain_steps(model, optimizer, ctx.task, _Zeroed(ctx.probe_loader(), zeroed), settings.steps, ctx.device)
    test = DataLoader(ctx.test_set, batch_size=int(ctx.cfg.loader.test.batch_size), collate_fn=ctx.cfg_collate())
    model.eval()
    outputs, targets = outputs_of(model, _Zeroed(itertools.islice(test, settings.held_out_batches), zeroed),
                                  ctx.device)
    return float(ctx.task.loss(outputs, targets))


class _Zeroed:
    """Batches with the inputs replaced by zeros (token ids become all token 0: just as input-independent),
    or passed through; iterable again for every epoch of a short run."""

    def __init__(self, batches: Any, zeroed: bool) -> None:
        self.batches, self.zeroed = batches, zeroed

    def __iter__(self) -> Iterator[Any]:
        for inputs, targets in self.batches:
            yield (torch.zeros_like(inputs) if self.zeroed else inputs), targets
