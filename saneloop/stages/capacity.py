"""Stage `capacity`: a wider model, trained for the same short budget on the same batches, must fit
the training data no worse (tip 9). Runs when `gates.capacity.wider` says how to widen the model."""

from __future__ import annotations

from torch import nn

from ..checks import wider_no_worse
from ..checks.base.verdict import Verdict, skipped
from ..checks.capacity import GATE as CAPACITY
from ..checks.capacity import CapacitySettings, more_unfrozen
from ..data.seeding import seed_everything
from ..models.adapters import is_adapted, with_rank
from ..models.head import find_head
from ..models.pretrained import load_pretrained
from .context import Built, RunContext
from .setup import seeded_model

NAME = "capacity"
# Config keys that add trainable capacity to a pretrained model without changing its pretrained shapes (the
# peft group's adapter rank): a widened model built with them can load init_from's weights.
ADAPTER_KEYS = ("peft.",)


def run(ctx: RunContext, built: Built) -> None:
    ctx.gates(CAPACITY, lambda s: _capacity(ctx, built, s))


def _capacity(ctx: RunContext, built: Built, settings: CapacitySettings) -> Verdict:
    if is_adapted(built.model):  # +peft=lora: more trainable capacity is a higher rank on the same base
        return _higher_rank(ctx, built, settings)
    if built.pretraining is not None:
        return _pretrained_capacity(ctx, built, settings)
    if not settings.wider:
        return skipped(CAPACITY, "no wider model configured; set e.g. gates.capacity.wider={model.hidden: 512}")
    absent = [key for key in settings.wider if not ctx.builders.has(key)]
    if absent:
        return skipped(
            CAPACITY,
            f"this config has no {absent} to widen; name the model's width argument, e.g. "
            f"++gates.capacity.wider={{model.channels: 32}} <gates.capacity.wider={settings.wider}>",
        )
    what = ", ".join(f"{k}={v}" for k, v in settings.wider.items())
    wider = _wider_model(ctx, built, settings)
    if built.loaded is not None and not _same_weights(wider, built.model):
        return skipped(
            CAPACITY,
            f"the model starts from pretrained weights (init_from) and {what} changes their shapes: a fresh wider "
            "model is no fair comparison. Compare more trainable capacity on the same weights instead, e.g. more "
            f"unfrozen layers, or a higher rank under +peft=lora <gates.capacity.wider={settings.wider}>",
        )
    seed_everything(ctx.seed, ctx.settings.deterministic)
    optimizer, loss_fn = ctx.builders.optimizer, built.task.loss
    return wider_no_worse(
        built.model, wider, built.loaders.probe(), loss_fn, optimizer, settings, what, ctx.device, outputs=ctx.outputs
    )


def _pretrained_capacity(ctx: RunContext, built: Built, settings: CapacitySettings) -> Verdict:
    """More trainable capacity of the same pretrained model: more unfrozen parameters, or a higher adapter
    rank (`wider` on adapter keys, the wider model loading init_from's weights); else skipped, saying why."""
    if settings.unfreeze:
        larger, opened = more_unfrozen(built.model, settings.unfreeze)
        if not opened:
            return skipped(CAPACITY, f"no frozen parameter matches <gates.capacity.unfreeze={settings.unfreeze}>")
        what = f"{len(opened)} more parameter tensors unfrozen: {', '.join(opened[:6])}"
    elif settings.wider and built.loaded is not None and all(k.startswith(ADAPTER_KEYS) for k in settings.wider):
        larger, what = _wider_model(ctx, built, settings), ", ".join(f"{k}={v}" for k, v in settings.wider.items())
        source = ctx.settings.init_from  # the same pretrained weights under the larger adapters
        load_pretrained(larger, str(source.path), source.new, source.min_loaded)
    else:
        return skipped(
            CAPACITY,
            f"the model is pretrained ({built.pretraining.source}): a wider model would start from random init, not "
            "from its pretraining, and say nothing of this one. Compare more trainable capacity instead: more "
            "unfrozen blocks (gates.capacity.unfreeze=[body.2.*]) or a higher adapter rank "
            "(gates.capacity.wider={peft.r: 16}, with init_from)",
        )
    seed_everything(ctx.seed, ctx.settings.deterministic)
    return wider_no_worse(
        built.model,
        larger,
        built.loaders.probe(),
        built.task.loss,
        ctx.builders.optimizer,
        settings,
        what,
        ctx.device,
        outputs=ctx.outputs,
    )


def _wider_model(ctx: RunContext, built: Built, settings: CapacitySettings):
    """Built from the config with the overrides, seeded like the run's model, final bias set the same way."""
    model = seeded_model(ctx, ctx.builders.widened(settings.wider))
    _, head = find_head(model, built.task.head_size(), ctx.settings.model_head)
    if head is not None:
        built.task.init_bias(head.bias, built.train_summary.targets)
    return model


def _same_weights(wider: nn.Module, model: nn.Module) -> bool:
    """Load `model`'s weights into `wider` when every shape agrees (a pretrained model with more of it
    trainable); False, loading nothing, when widening changed a shape."""
    state = model.state_dict()
    shapes = {k: v.shape for k, v in wider.state_dict().items()}
    if shapes != {k: v.shape for k, v in state.items()}:
        return False
    wider.load_state_dict(state)
    return True


def _higher_rank(ctx: RunContext, built: Built, settings: CapacitySettings) -> Verdict:
    """The adapted model against the same base with fresh adapters of rank `peft.r` from `gates.capacity.wider`
    (other keys there widen the base, which a pretrained base cannot be)."""
    rank = settings.wider.get("peft.r")
    if rank is None:
        return skipped(
            CAPACITY,
            "an adapted model's trainable capacity is its rank, and no higher rank is configured; set e.g. "
            f"++gates.capacity.wider={{peft.r: 16}} <gates.capacity.wider={settings.wider}>",
        )
    wider = with_rank(built.model, int(rank)).to(ctx.device)
    seed_everything(ctx.seed, ctx.settings.deterministic)
    return wider_no_worse(
        built.model,
        wider,
        built.loaders.probe(),
        built.task.loss,
        ctx.builders.optimizer,
        settings,
        f"peft.r={rank}",
        ctx.device,
        outputs=ctx.outputs,
    )
