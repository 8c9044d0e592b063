"""Stage `baselines`: before trusting any loss curve, show the model learns something from its inputs
that it cannot learn from their absence (tip 7: an input-independent baseline)."""

from __future__ import annotations

from ..checks import learns_from_inputs
from ..data.seeding import seed_everything
from . import label_checks
from .context import Prepared, RunContext

NAME = "baselines"


def run(ctx: RunContext, prep: Prepared) -> None:
    """Two copies of the run's initialised model (bias set), trained on the same batches, one fed zeros;
    their losses are compared on test batches: held out, and no gate tunes anything on them."""
    seed_everything(ctx.seed, ctx.settings.deterministic)  # the copies' Dropout draws, whatever ran before
    verdict = ctx.gates(
        "input_independent",
        lambda s: learns_from_inputs(
            prep.model,
            prep.loaders.probe(),
            prep.loaders.test(),
            prep.task.loss,
            ctx.components.optimizer,
            s,
            device=ctx.device,
        ),
    )
    label_checks.run(ctx, prep, verdict)  # too_good (from the verdict above), label_noise
