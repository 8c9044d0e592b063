"""Stage `capacity`: a wider model, trained for the same short budget on the same batches, must fit
the training data no worse (tip 9). Runs when `gates.capacity.wider` says how to widen the model."""
from __future__ import annotations

import copy

from omegaconf import OmegaConf

from ..build import build_model, build_optimizer
from ..checks import wider_no_worse
from ..checks.capacity import Settings
from ..checks.verdict import Verdict, skipped
from ..context import RunContext
from ..head import find_head
from ..loop import plain_steps
from ..seeding import seed_everything

NAME = "capacity"


def run(ctx: RunContext) -> None:
    ctx.gate("capacity", lambda s: _capacity(ctx, s))


def _capacity(ctx: RunContext, settings: Settings) -> Verdict:
    if not settings.wider:
        return skipped("capacity", "no wider model configured; set e.g. gates.capacity.wider={model.hidden: 512}")
    absent = [key for key in settings.wider if OmegaConf.select(ctx.cfg, key) is None]
    if absent:
        return skipped("capacity", f"this config has no {absent} to widen; name the model's width argument, e.g. "
                       f"++gates.capacity.wider={{model.channels: 32}} <gates.capacity.wider={settings.wider}>")
    what = ", ".join(f"{k}={v}" for k, v in settings.wider.items())
    base = _short_fit(ctx, copy.deepcopy(ctx.model), settings)
    wider = _short_fit(ctx, _wider_model(ctx, settings), settings)
    return wider_no_worse(base, wider, what, settings)


def _wider_model(ctx: RunContext, settings: Settings):
    """Built from the config with the overrides, seeded like the run's model, final bias set the same way."""
    cfg = copy.deepcopy(ctx.cfg)
    for key, value in settings.wider.items():
        OmegaConf.update(cfg, key, value, merge=False)
    seed_everything(ctx.seed, ctx.cfg.deterministic)
    model = build_model(cfg).to(ctx.device)
    _, head = find_head(model, ctx.task.head_size(), cfg.get("model_head"))
    if head is not None:
        ctx.task.init_bias(head.bias, ctx.train_summary.targets)
    return model


def _short_fit(ctx: RunContext, model, settings: Settings) -> list[float]:
    """Per-step training losses on the gates' own batch order, the same for both models."""
    seed_everything(ctx.seed, ctx.cfg.deterministic)  # the same Dropout draws for both
    optimizer = build_optimizer(ctx.cfg, list(model.parameters()), lr=settings.lr)
    return plain_steps(model, optimizer, ctx.task, ctx.probe_loader(), settings.steps, ctx.device)
