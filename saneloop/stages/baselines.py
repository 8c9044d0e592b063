"""Stage `baselines`: before trusting any loss curve, show the model learns something from its inputs
that it cannot learn from their absence (tip 7: an input-independent baseline)."""
from __future__ import annotations

from typing import Any, Iterator

from torch.utils.data import DataLoader

from ..build import build_optimizer
from ..checks import learns_from_inputs
from ..checks.input_independent import Settings
from ..checks.verdict import Verdict
from ..context import RunContext
from ..loop import to_device

NAME = "baselines"


def run(ctx: RunContext) -> None:
    ctx.gate("input_independent", lambda s: _input_independent(ctx, s))


def _input_independent(ctx: RunContext, settings: Settings) -> Verdict:
    """Both copies start from the run's initialised model (bias set) and see the same batches; the
    losses are compared on test batches, which no gate tunes anything on."""
    def make_optimizer(params: list) -> Any:
        return build_optimizer(ctx.cfg, params, lr=settings.lr)

    def train_batches() -> Iterator[Any]:
        return (to_device(b, ctx.device) for b in ctx.probe_loader())

    def held_out() -> Iterator[Any]:
        loader = DataLoader(ctx.test_set, batch_size=int(ctx.cfg.loader.test.batch_size), shuffle=False,
                            collate_fn=ctx.cfg_collate())
        return (to_device(b, ctx.device) for b in loader)

    return learns_from_inputs(ctx.model, make_optimizer, ctx.task.loss, train_batches, held_out, settings)
