"""LoRA adapters (peft) on any model: how large pretrained models are fine-tuned on one GPU.

The adapters go on after init_from has loaded the pretrained weights (the checkpoint's keys are the bare
model's) and before any gate reads the model, so every gate judges the model that trains: a `PeftModel`
whose base is frozen and whose adapters (and `modules_to_save`, e.g. a new head) train. `forward` passes
every input through to the base model, so batches, outputs and heads read as they do without adapters.
What a run saves at the end is the merged model (`merged`): the base's own keys, loadable as `init_from`
by a run without adapters, or by `from_pretrained` for a transformers model.
Pure: no config; `key` names the setting in messages.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Union

from torch import nn

from ..errors import InputError

Targets = Union[str, Sequence[str]]
ADAPTABLE = (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d)


def add_lora(
    model: nn.Module,
    r: int,
    alpha: float,
    dropout: float = 0.0,
    target_modules: Targets = "all-linear",
    modules_to_save: Sequence[str] = (),
    key: str = "peft",
) -> nn.Module:
    """`model` wrapped in LoRA adapters of rank `r` (a PeftModel, base frozen); InputError when peft is
    missing or a target module is not in the model, naming the modules it has."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as err:
        raise InputError(f'{key}: LoRA needs the peft package: pip install "saneloop[peft]"') from err
    targets = target_modules if isinstance(target_modules, str) else list(target_modules)
    config = LoraConfig(
        r=int(r),
        lora_alpha=float(alpha),
        lora_dropout=float(dropout),
        target_modules=targets,
        modules_to_save=list(modules_to_save) or None,
    )
    _refuse_absent(model, targets, modules_to_save, key)
    try:
        return get_peft_model(model, config)
    except ValueError as err:  # peft's own refusal (a module type it cannot adapt): one message naming the key
        raise InputError(f"{key}.target_modules={targets}: {err}. Adaptable: {adaptable_modules(model)}") from err


def _refuse_absent(model: nn.Module, targets: Targets, keep: Sequence[str], key: str) -> None:
    """A named target or module to save that the model lacks would silently adapt nothing: refuse it."""
    names = [n for n, _ in model.named_modules() if n]
    wanted = [] if isinstance(targets, str) else [(f"{key}.target_modules", t) for t in targets]
    wanted += [(f"{key}.modules_to_save", m) for m in keep]
    for setting, name in wanted:
        if not any(n == name or n.endswith(f".{name}") for n in names):
            raise InputError(
                f"{setting}: the model has no module {name!r}; adaptable modules: {adaptable_modules(model)}"
            )


def adaptable_modules(model: nn.Module, shown: int = 12) -> str:
    """The leaf names of the modules LoRA can adapt (what target_modules lists), most common first."""
    leaves: dict[str, int] = {}
    for name, module in model.named_modules():
        if isinstance(module, ADAPTABLE):
            leaf = name.rsplit(".", 1)[-1]
            leaves[leaf] = leaves.get(leaf, 0) + 1
    ranked = sorted(leaves, key=lambda leaf: -leaves[leaf])
    return ", ".join(ranked[:shown]) + (f" ... and {len(ranked) - shown} more" if len(ranked) > shown else "")


def is_adapted(model: Any) -> bool:
    """Whether `model` is a peft model (a PeftModel, or one wrapped by Accelerate/DDP)."""
    inner = getattr(model, "module", model)
    return callable(getattr(inner, "merge_and_unload", None)) and hasattr(inner, "peft_config")


def base_of(model: nn.Module) -> nn.Module:
    """The user's model inside the adapters (its layers carry the adapters); `model` when not adapted."""
    return model.get_base_model() if is_adapted(model) else model  # type: ignore[operator]


def merged(model: nn.Module) -> nn.Module:
    """A copy of `model` with the adapters merged into the base weights: the bare model's keys, what a run
    without adapters (init_from) or `from_pretrained` reads. `model` itself when it has no adapters.
    An adapted module whose weight is tied to another module's (GPT-2's `lm_head` and `wte`) gets its own
    copy first: merging into one shared tensor would add each module's update to the other's, and the
    merged model would not compute what the adapted one did. Its tied pairs come back untied
    (`tie_word_embeddings=False` on a transformers config, so `from_pretrained` does not tie them again)."""
    if not is_adapted(model):
        return model
    copied = copy.deepcopy(model)
    untied = _untie_adapted(base_of(copied))
    bare = copied.merge_and_unload()  # type: ignore[operator]
    config = getattr(bare, "config", None)
    if untied and getattr(config, "tie_word_embeddings", False):
        config.tie_word_embeddings = False
    return bare


def tied_adapted(model: nn.Module) -> list[tuple[str, str]]:
    """(adapted module, module it shares its weight with) for every adapted module whose base weight is tied
    to another module's: the merged model unties them (`merged`)."""
    owners: dict[int, list[str]] = {}
    for name, module in base_of(model).named_modules():
        weight = module._parameters.get("weight")  # the module's own weight, not a submodule's
        if weight is not None:
            owners.setdefault(id(weight), []).append(name.removesuffix(".base_layer"))
    return [(a, b) for names in owners.values() for a in names for b in names if a != b and _adapted(model, a)]


def _adapted(model: nn.Module, name: str) -> bool:
    return hasattr(base_of(model).get_submodule(name), "base_layer")


def _untie_adapted(base: nn.Module) -> list[str]:
    """Give each adapted module whose base weight is tied to another module's its own copy of that weight."""
    names = sorted({a for a, _ in tied_adapted(base)})
    for name in names:
        layer = base.get_submodule(name).base_layer
        layer.weight = nn.Parameter(layer.weight.detach().clone(), requires_grad=layer.weight.requires_grad)
    return names


def with_rank(model: nn.Module, r: int) -> nn.Module:
    """The same base weights with fresh adapters of rank `r` (alpha scaled to keep alpha / r): "a bit more
    capacity" for an adapted model (tip 9). The run's model is left as it is."""
    config = model.peft_config["default"]  # type: ignore[index]
    base = copy.deepcopy(model).unload()  # type: ignore[operator]
    scale = config.lora_alpha / config.r
    targets = config.target_modules if isinstance(config.target_modules, str) else sorted(config.target_modules)
    keep = sorted(config.modules_to_save or ())
    return add_lora(base, r, scale * r, config.lora_dropout, targets, keep)


def summary(model: nn.Module) -> str:
    """One line for the report: rank, modules adapted, trainable parameters against all."""
    config = model.peft_config["default"]  # type: ignore[index]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    adapted = sum(1 for name, _ in model.named_modules() if name.endswith("lora_A"))
    saved = f", trained in full: {sorted(config.modules_to_save)}" if config.modules_to_save else ""
    return (
        f"peft: LoRA r={config.r}, alpha={config.lora_alpha:g} on {adapted} modules{saved}; "
        f"{trainable:,} of {total:,} parameters train ({trainable / max(total, 1):.1%}), the base is frozen"
        + _untied_note(model)
    )


def _untied_note(model: nn.Module) -> str:
    """What the saved merged model changes for tied weights that adapters train apart."""
    pairs = sorted({tuple(sorted(pair)) for pair in tied_adapted(model)})
    if not pairs:
        return ""
    named = ", ".join(f"{a} and {b}" for a, b in pairs)
    return (
        f"; {named} share one weight and adapt apart: the merged model (model.safetensors) unties them, "
        "so a run that loads it builds its model untied (a transformers model: model.tie_word_embeddings=false)"
    )
