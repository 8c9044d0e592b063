"""Before `evaluate` judges the trained model: the dependency probes again, on the trained weights.

A mask that was exact at init can be learned around (an additive -1e4 mask beaten by trained scores
of -15,000, minGPT #75); batch mixing can appear once statistics move. The probes are cheap: a few
backward passes on one batch.
"""

from __future__ import annotations

from dataclasses import replace

from ..checks.base.verdict import Verdict
from ..checks.batch_independence import TRAINED_GATE as TRAINED_BATCH_INDEPENDENCE
from ..checks.causality import TRAINED_GATE as TRAINED_CAUSALITY
from .context import Built, RunContext
from .sanity_probes import probe_batch_independence, probe_causality


def run(ctx: RunContext, built: Built) -> None:
    ctx.gates(
        TRAINED_BATCH_INDEPENDENCE,
        lambda s: _trained(probe_batch_independence(ctx, built, s, TRAINED_BATCH_INDEPENDENCE)),
    )
    ctx.gates(TRAINED_CAUSALITY, lambda s: _trained(probe_causality(ctx, built, s, TRAINED_CAUSALITY)))


def _trained(verdict: Verdict) -> Verdict:
    return replace(verdict, message=f"on the trained weights: {verdict.message}")
