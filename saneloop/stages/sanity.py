"""Stage `sanity`: before any optimizer step, set the final bias from the data and check the loss."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, Optional

from ..checks import (
    bias_reaches_output,
    every_param_learns,
    inputs_reach_output,
    loss_at_init,
    losses_agree,
    model_matches_reference,
    padding_ignored,
    switches_both_ways,
)
from ..checks.base.verdict import Verdict, skipped
from ..checks.batch_independence import GATE as BATCH_INDEPENDENCE
from ..checks.causality import GATE as CAUSALITY
from ..checks.grad_accumulation import GATE as GRAD_ACCUMULATION
from ..checks.grad_accumulation import accumulation_matches
from ..checks.init_bias import GATE as INIT_BIAS
from ..checks.init_loss import GATE as INIT_LOSS
from ..checks.init_loss import start_loss
from ..checks.inputs_used import GATE as INPUTS_USED
from ..checks.loopy_reference import GATE as LOOPY_REFERENCE
from ..checks.model_loss import GATE as MODEL_LOSS
from ..checks.modes import MODES
from ..checks.padding_ignored import GATE as PADDING_IGNORED
from ..checks.params_learn import GATE as PARAMS_LEARN
from ..checks.pretrained_lr import GATE as PRETRAINED_LR
from ..checks.pretrained_lr import PretrainedLrSettings, lr_keeps_pretraining
from ..data.batch import Batch
from ..data.loaders import KEPT, Loaders
from ..data.seeding import seed_everything
from ..models.head import find_head
from ..models.pretraining import Pretraining, from_a_notebook, from_the_loss, hf_body, known_pretraining
from .context import Built, RunContext
from .sanity_probes import probe_batch_independence, probe_causality

NAME = "sanity"


def run(ctx: RunContext, built: Built) -> None:
    what_was_set = _set_final_bias(ctx, built)
    model, task, loaders, device, read = built.model, built.task, built.loaders, ctx.device, ctx.outputs
    ctx.gates(MODES, lambda s: switches_both_ways(model, loaders.probe_batch().to(device), outputs=read))
    ctx.gates(INIT_BIAS, lambda s: _left_alone(built) or _init_bias(ctx, built, what_was_set, s))
    ctx.gates(INIT_LOSS, lambda s: _init_loss(ctx, built, s))
    ctx.gates(MODEL_LOSS, lambda s: _model_loss(ctx, built, s))
    # padding_ignored before params_learn: a mask that hides every token also starves attention of
    # gradient, and this gate says why
    ctx.gates(
        PADDING_IGNORED,
        lambda s: padding_ignored(model, _padded_batch(loaders, s.batch_size).to(device), s.tolerance, outputs=read),
    )
    ctx.gates(
        PARAMS_LEARN, lambda s: every_param_learns(model, task.loss, loaders.probe_batch().to(device), outputs=read)
    )
    ctx.gates(PRETRAINED_LR, lambda s: _pretrained_lr(ctx, built, s))
    ctx.gates(
        INPUTS_USED, lambda s: inputs_reach_output(model, loaders.probe_batch(s.batch_size).to(device), outputs=read)
    )
    ctx.gates(GRAD_ACCUMULATION, lambda s: _accumulation(ctx, built, s.rtol))
    ctx.gates(BATCH_INDEPENDENCE, lambda s: probe_batch_independence(ctx, built, s))
    ctx.gates(CAUSALITY, lambda s: probe_causality(ctx, built, s))
    ctx.gates(LOOPY_REFERENCE, lambda s: model_matches_reference(model, loaders.probe_batch().to(device), s))


def _init_bias(ctx: RunContext, built: Built, what_was_set: str, s) -> Verdict:
    batches, targets = _first(built.loaders, s.batches), built.train_summary.targets
    head, read = built.head or None, ctx.outputs
    return bias_reaches_output(
        built.model, built.task, batches, targets, head, what_was_set, s, ctx.device, outputs=read
    )


def _init_loss(ctx: RunContext, built: Built, s) -> Verdict:
    """Judged against the prior's loss for a pretrained head (`pretrained`: how that is known)."""
    batches, targets, bias_set = _first(built.loaders, s.batches), built.train_summary.targets, built.head is not None
    return loss_at_init(
        built.model,
        built.task,
        batches,
        targets,
        s,
        ctx.device,
        bias_set,
        built.head or None,
        outputs=ctx.outputs,
        pretrained=_pretrained_head(built),
    )


def _first(loaders: Loaders, count: int) -> Iterable[Batch]:
    """The first `count` probe batches: kept and shared by the gates that read the same ones (init_bias,
    init_loss, params_learn ...), or streamed when there are many."""
    return loaders.probe_batches(count) if count <= KEPT else loaders.probe()


def _set_final_bias(ctx: RunContext, built: Built) -> str:
    """Tip 5 is an action, not only a check: the bias is set whether or not its gate runs; but only on a new
    head: a pretrained head is left as it came (its bias holds what pretraining learned)."""
    name, head = find_head(built.model, built.task.head_size(), ctx.settings.model_head)
    built.head = name
    built.pretraining = _pretraining(ctx, built)
    if built.pretraining is not None:
        ctx.record.note(f"pretrained: the model is {built.pretraining.describe(name)}")
    if head is None or _pretrained_head(built):
        return ""
    return built.task.init_bias(head.bias, built.train_summary.targets)


def _pretraining(ctx: RunContext, built: Built) -> Optional[Pretraining]:
    """What the declaration, init_from and a from_pretrained config say; failing those, the loss at init (before
    the bias is set): clearly below the prior's, which a random head cannot reach."""
    declared, size = ctx.settings.model_pretrained, built.task.head_size()
    found = known_pretraining(built.model, size, ctx.settings.model_head, built.loaded, declared)
    if found is not None or declared is False:
        return found
    s = ctx.settings.gates.init_loss
    picked = [b.to(ctx.device) for b in itertools.islice(_first(built.loaders, s.batches), s.batches)]
    loss, se = start_loss(built.model, built.task, picked, ctx.outputs)
    prior, _ = built.task.expected_init_loss(built.train_summary.targets)
    if from_the_loss(loss, prior, se, s.z, s.found_gain):
        return from_a_notebook(loss, prior)
    return hf_body(built.model)


def _pretrained_head(built: Built) -> Optional[str]:
    """How the model is known to be pretrained when its final layer is pretrained too (None: a new head)."""
    return built.pretraining.source if built.pretraining is not None and built.pretraining.head else None


def _left_alone(built: Built) -> Optional[Verdict]:
    """init_bias on a pretrained head: nothing was set, and the report says why."""
    source = _pretrained_head(built)
    if source is None:
        return None
    head = f"{built.head}.bias" if built.head else "the final bias"
    return skipped(INIT_BIAS, f"{head} is left as it came: the model is pretrained ({source}), its final layer too")


def _pretrained_lr(ctx: RunContext, built: Built, settings: PretrainedLrSettings) -> Verdict:
    """The run's optimizer on a copy, for a few steps: where a pretrained model first trains."""
    if built.pretraining is None:
        why = "the model is not known to be pretrained (model_pretrained, init_from, from_pretrained, loss at init)"
        return skipped(PRETRAINED_LR, why)
    seed_everything(ctx.seed, ctx.settings.deterministic)
    loaders = built.loaders
    return lr_keeps_pretraining(
        built.model,
        built.task,
        loaders.probe(),
        loaders.evaluation("val"),
        ctx.builders.optimizer,
        settings,
        ctx.device,
        outputs=ctx.outputs,
    )


def _accumulation(ctx: RunContext, built: Built, rtol: float) -> Verdict:
    """k micro-batches of the training batch size against the one batch of k times that size."""
    k = int(ctx.settings.accelerator.gradient_accumulation_steps)
    if k <= 1:
        return accumulation_matches(built.model, built.task.loss, None, k, rtol)  # type: ignore[arg-type]
    batch = built.loaders.probe_batch(k * built.loaders.train_batch_size).to(ctx.device)
    return accumulation_matches(built.model, built.task.loss, batch, k, rtol, outputs=ctx.outputs)


def _model_loss(ctx: RunContext, built: Built, s) -> Verdict:
    """Only for a run that trains on the model's own loss (model_output.model_loss=true)."""
    if not ctx.settings.model_output.model_loss:
        return skipped(MODEL_LOSS, "the run trains on the task's loss from the logits <model_output.model_loss=false>")
    return losses_agree(built.model, built.task.loss, built.loaders.probe(), s, ctx.device, outputs=ctx.outputs)


PADDED_LOOKS = 4  # probe batches read to find one with padding (items cut to one length can fill a batch)


def _padded_batch(loaders: Any, size: int) -> Any:
    """The first of the probe batches that holds a padded position (the first batch when none does): a batch
    of lines all cut to the maximum length has no padding to probe, and the gate would only skip."""
    batches = loaders.probe_batches(PADDED_LOOKS, size)
    for batch in batches:
        mask = batch.padding_mask
        if mask is not None and not bool(mask.all()):
            return batch
    return batches[0]
