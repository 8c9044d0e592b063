"""Stage `baselines`: before trusting any loss curve, show the model learns something from its inputs
that it cannot learn from their absence (tip 7: an input-independent baseline)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Optional

import torch
from torch import nn

from ..checks import learns_from_inputs
from ..checks.input_independent import GATE as INPUT_INDEPENDENT
from ..checks.input_independent import zero_inputs
from ..checks.measure.per_example import per_example_of, per_output_of
from ..checks.measure.probing import input_embedding, zero_embedding_output
from ..data.batch import Batch
from ..data.seeding import seed_everything
from ..data.streams import Stream, generator
from . import baselines_labels
from .context import Built, RunContext

NAME = "baselines"


def run(ctx: RunContext, built: Built) -> None:
    """Two copies of the run's initialised model (bias set), trained on the same batches, one fed zeros,
    until their per-example losses on validation examples tell them apart (or clearly cannot): held out
    from training, and never the test set, which only `evaluate` reads."""
    zero, zero_copy = absent_inputs(built)
    seed_everything(ctx.seed, ctx.settings.deterministic)  # the copies' Dropout draws, whatever ran before
    verdict = ctx.gates(
        INPUT_INDEPENDENT,
        lambda s: learns_from_inputs(
            built.model,
            built.loaders.probe(),
            held_out(built, ctx.seed),
            built.task.loss,
            ctx.builders.optimizer,
            s,
            zero=zero,
            device=ctx.device,
            per_example=per_example_of(built.task),
            zero_copy=zero_copy,
            outputs=ctx.outputs,
            per_output=per_output_of(built.task),
        ),
    )
    baselines_labels.run(ctx, built, verdict)  # too_good (from the verdict above), label_noise


def absent_inputs(built: Built) -> tuple[Callable[[Batch], Batch], Optional[Callable[[nn.Module], Any]]]:
    """What "no inputs" means for this model, as (what the zeroed copy's batches become, what is done once
    to the zeroed copy): token ids stay and the copy's embedding outputs zeros (the ids, the padding mask
    and the positions stay, so the model runs as it would); other inputs become zeros."""
    batch = built.loaders.items(built.train_set, [0])
    mask_key = batch.format.mask_key
    floats = [t for n, t in batch.named_inputs() if n != mask_key and t.is_floating_point()]
    if floats or input_embedding(built.model) is None:
        return zero_inputs, None
    return _unchanged, zero_embedding_output


def _unchanged(batch: Batch) -> Batch:
    return batch


def held_out(built: Built, seed: int) -> Iterator[Batch]:
    """Validation examples in a fixed random order, collated as the run collates them and read only as far
    as the gate asks: a validation set sorted by class must not hand the gate its first class only."""
    order = torch.randperm(len(built.val_set), generator=generator(seed, Stream.HELD_OUT)).tolist()  # type: ignore[arg-type]
    yield from built.loaders.item_batches(built.val_set, order, test=True)  # one loader's workers, read lazily
