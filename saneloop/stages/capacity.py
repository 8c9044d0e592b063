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
from .context import Built, RunContext
from .setup import seeded_model

NAME = "capacity"


def run(ctx: RunContext, built: Built) -> None:
    ctx.gates(CAPACITY, lambda s: _capacity(ctx, built, s))


def _capacity(ctx: RunContext, built: Built, settings: CapacitySettings) -> Verdict:
    """The model against a larger one: a higher rank (adapters), more of it unfrozen or the same weights in a
    model with more of them trainable (pretrained), or a wider model from the seed (from scratch)."""
    if is_adapted(built.model):  # +peft=lora: more trainable capacity is a higher rank on the same base
        return _higher_rank(ctx, built, settings)
    if built.pretraining is not None and settings.unfreeze:
        return _unfrozen(ctx, built, settings)
    if not settings.wider:
        return skipped(CAPACITY, _nothing_larger(built))
    absent = [key for key in settings.wider if not ctx.builders.has(key)]
    if absent:
        return skipped(
            CAPACITY,
            f"this config has no {absent} to widen; name the model's width argument, e.g. "
            f"++gates.capacity.wider={{model.channels: 32}} <gates.capacity.wider={settings.wider}>",
        )
    what = ", ".join(f"{k}={v}" for k, v in settings.wider.items())
    wider = _wider_model(ctx, built, settings)
    if (built.pretraining is not None or built.loaded is not None) and not _same_weights(wider, built.model):
        return skipped(
            CAPACITY,
            f"{_pretrained(built)} and {what} changes the shapes of its weights: a wider model would start from "
            "random init, not from its pretraining, and say nothing of this one. Compare more trainable capacity "
            "on the same weights instead: more unfrozen blocks (gates.capacity.unfreeze=[body.2.*]), a config "
            "that unfreezes more of the same model, or a higher rank under +peft=lora "
            f"<gates.capacity.wider={settings.wider}>",
        )
    return _compare(ctx, built, wider, settings, what)


def _unfrozen(ctx: RunContext, built: Built, settings: CapacitySettings) -> Verdict:
    """The pretrained model against a copy with its frozen parameters matching `unfreeze` trainable."""
    larger, opened = more_unfrozen(built.model, settings.unfreeze)
    if not opened:
        return skipped(CAPACITY, f"no frozen parameter matches <gates.capacity.unfreeze={settings.unfreeze}>")
    return _compare(
        ctx, built, larger, settings, f"{len(opened)} more parameter tensors unfrozen: {', '.join(opened[:6])}"
    )


def _nothing_larger(built: Built) -> str:
    if built.pretraining is None:
        return "no wider model configured; set e.g. gates.capacity.wider={model.hidden: 512}"
    return (
        f"{_pretrained(built)}: a wider model would start from random init, not from its pretraining, and say "
        "nothing of this one. Compare more trainable capacity instead: more unfrozen blocks "
        "(gates.capacity.unfreeze=[body.2.*]) or a higher adapter rank (+peft=lora, gates.capacity.wider={peft.r: 16})"
    )


def _pretrained(built: Built) -> str:
    return (
        f"the model is pretrained ({built.pretraining.source})"
        if built.pretraining
        else "the model starts from init_from"
    )


def _compare(ctx: RunContext, built: Built, larger: nn.Module, settings: CapacitySettings, what: str) -> Verdict:
    """Both trained from the same seed, on the same probe batches, with the run's optimizer and loss."""
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
    return _compare(ctx, built, with_rank(built.model, int(rank)).to(ctx.device), settings, f"peft.r={rank}")
