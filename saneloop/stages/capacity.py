"""Stage `capacity`: a wider model, trained for the same short budget on the same batches, must fit
the training data no worse (tip 9). Runs when `gates.capacity.wider` says how to widen the model; a model
above `gates.capacity.narrow_above` parameters is compared with a narrower one instead (`direction`)."""

from __future__ import annotations

from dataclasses import replace

from omegaconf import OmegaConf
from torch import nn

from ..checks import wider_no_worse
from ..checks.base.verdict import Verdict, failed, skipped
from ..checks.capacity import GATE as CAPACITY
from ..checks.capacity import CapacitySettings, inverted, more_unfrozen, not_widening
from ..checks.measure.fitting import trainable
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
    what = _named(settings.wider)
    pretrained = built.pretraining is not None or built.loaded is not None
    direction, why = _direction(built.model, settings)
    if direction == "narrower" and not pretrained:
        return _narrower(ctx, built, settings, why)
    if direction == "narrower":  # a narrower model would start from init and say nothing of pretrained weights
        why = f"{_pretrained(built)}: compared with the same weights in a larger model; {why}"
    wider = _wider_model(ctx, built, settings.wider)
    if pretrained and not _same_weights(wider, built.model):
        return skipped(
            CAPACITY,
            f"{_pretrained(built)} and {what} changes the shapes of its weights: a wider model would start from "
            "random init, not from its pretraining, and say nothing of this one. Compare more trainable capacity "
            "on the same weights instead: more unfrozen blocks (gates.capacity.unfreeze=[body.2.*]), a config "
            "that unfreezes more of the same model, or a higher rank under +peft=lora "
            f"<gates.capacity.wider={settings.wider}>",
        )
    return _said(_compare(ctx, built, wider, settings, what), "wider", why)


def _direction(model: nn.Module, settings: CapacitySettings) -> tuple[str, str]:
    """wider or narrower, and why (`gates.capacity.direction`; auto: by the model's trainable parameters)."""
    if settings.direction != "auto":
        return settings.direction, f"<gates.capacity.direction={settings.direction}>"
    size = sum(p.numel() for p in trainable(model))
    if size > settings.narrow_above:
        return "narrower", (
            f"the model has {size:,} trainable parameters, above "
            f"gates.capacity.narrow_above={settings.narrow_above:,}: "
            "a wider twin and its optimizer state would take several times the memory of training the model"
        )
    within = f"gates.capacity.narrow_above={settings.narrow_above:,}"
    return "wider", f"the model's {size:,} trainable parameters are within {within}"


def _narrower(ctx: RunContext, built: Built, settings: CapacitySettings, why: str) -> Verdict:
    """The run's model against one narrower by the factor `wider` widens it; the run's is the larger of the pair."""
    current = {key: OmegaConf.select(ctx.builders.cfg, key) for key in settings.wider}
    shrinking = not_widening(settings.wider, current)
    if shrinking:
        return _not_wider(settings, shrinking, why)
    try:
        overrides = inverted(settings.wider, current)
        narrow = _wider_model(ctx, built, overrides)
    except Exception as error:  # noqa: BLE001 -- a narrower model the gate derived; the user's wider one is theirs
        return skipped(
            CAPACITY,
            f"no narrower model to compare with: {error}. Compare with the wider one instead: "
            f"gates.capacity.direction=wider (more memory) <gates.capacity.wider={settings.wider}>",
        )
    what = f"{_named(overrides)}: gates.capacity.wider inverted"
    return _said(_compare(ctx, built, narrow, settings, what, narrower=True), "narrower", why)


def _not_wider(settings: CapacitySettings, shrinking: dict, why: str) -> Verdict:
    """`wider` sets a width at or below the model's: no narrower model follows from it, and it likely misreads
    the width argument (a failure, as the trained comparison finds in the other direction)."""
    said = ", ".join(f"{k}={w} (the model's {v})" for k, (v, w) in shrinking.items())
    return failed(
        CAPACITY,
        {k: w for k, (_, w) in shrinking.items()},
        {k: f"> {v}" for k, (v, _) in shrinking.items()},
        f"the 'wider' model is not wider: {said}. More capacity cannot be compared, and a width setting at or "
        "below the model's is likely a misread width argument; set a larger value, e.g. twice the model's "
        f"<gates.capacity.wider={settings.wider}, gates.capacity.direction=narrower: {why}>",
        CAPACITY.tip,
        direction="narrower",
    )


def _said(verdict: Verdict, direction: str, why: str) -> Verdict:
    """The verdict saying which comparison ran and why (message and details: the report keeps the message)."""
    message = f"{verdict.message}; compared with a {direction} model: {why}"
    return replace(verdict, message=message, details={**verdict.details, "direction": direction, "why": why})


def _named(overrides: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items())


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


def _compare(
    ctx: RunContext, built: Built, other: nn.Module, settings: CapacitySettings, what: str, narrower: bool = False
) -> Verdict:
    """The model and `other` (larger; `narrower`: smaller) trained from the same seed, on the same probe batches,
    with the run's optimizer and loss. The check trains `other` itself (no copy: parked and freed in its turn)."""
    seed_everything(ctx.seed, ctx.settings.deterministic)
    pair = (lambda: other, built.model) if narrower else (built.model, lambda: other)
    return wider_no_worse(
        *pair,
        built.loaders.probe,
        built.task.loss,
        ctx.builders.optimizer,
        settings,
        what,
        ctx.device,
        outputs=ctx.outputs,
        narrower=narrower,
    )


def _wider_model(ctx: RunContext, built: Built, overrides: dict) -> nn.Module:
    """Built from the config with the overrides, seeded like the run's model, final bias set the same way."""
    model = seeded_model(ctx, ctx.builders.widened(overrides))
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
