"""Stage `baselines`: before trusting any loss curve, show the model learns something from its inputs
that it cannot learn from their absence (tip 7: an input-independent baseline)."""

from __future__ import annotations

from ..checks import learns_from_inputs
from ..checks.per_example import per_example_of
from ..data.seeding import seed_everything
from .context import Prepared, RunContext

NAME = "baselines"


def run(ctx: RunContext, prep: Prepared) -> None:
    """Two copies of the run's initialised model (bias set), trained on the same batches, one fed zeros,
    until their per-example losses on test examples tell them apart (or clearly cannot): held out, and
    no gate tunes anything on them."""
    seed_everything(ctx.seed, ctx.settings.deterministic)  # the copies' Dropout draws, whatever ran before
    ctx.gates(
        "input_independent",
        lambda s: learns_from_inputs(
            prep.model,
            prep.loaders.probe(),
            prep.loaders.test(),
            prep.task.loss,
            ctx.components.optimizer,
            s,
            device=ctx.device,
            per_example=per_example_of(prep.task),
        ),
    )
