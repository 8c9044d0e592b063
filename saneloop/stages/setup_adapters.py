"""Setup's adapters (`+peft=lora`): LoRA on the model after init_from loaded it, before any gate reads it."""

from __future__ import annotations

from typing import Optional

from omegaconf import OmegaConf
from rich.markup import escape
from torch import nn

from ..config.schema import PeftConfig
from ..config.settings import problems
from ..errors import InputError
from ..models.adapters import add_lora, summary
from .context import RunContext


def settings(ctx: RunContext) -> Optional[PeftConfig]:
    """The run's `peft` node, typed and checked (a bad value is refused by name); None without adapters."""
    node = ctx.settings.config.get("peft")
    if node is None:
        return None
    config = OmegaConf.to_object(node)
    found = list(problems(config, "peft"))
    if found:
        raise InputError("bad config value" + ("s" if len(found) > 1 else "") + ": " + "; ".join(found))
    return config  # type: ignore[return-value]


def adapt(ctx: RunContext, model: nn.Module, quiet: bool = False) -> nn.Module:
    """`model` with the configured adapters (itself without `peft`); the report says what trains."""
    config = settings(ctx)
    if config is None:
        return model
    adapted = add_lora(model, config.r, config.alpha, config.dropout, config.target_modules, config.modules_to_save)
    if not quiet:
        ctx.record.note(summary(adapted))
        ctx.record.terminal.print(f"  {escape(summary(adapted))}")
    return adapted.to(ctx.device)
