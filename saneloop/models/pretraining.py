"""Whether a model starts pretrained, how saneloop knows, and whether its final layer (the head) is pretrained
too: what init_bias, init_loss, capacity and pretrained_lr read to judge a fine-tuning run by what
fine-tuning should do.

The sources, strongest first: a declaration (`model_pretrained: true|false`), the weights `init_from` loaded
(`Loaded`), a Hugging Face model that `from_pretrained` loaded in the user's own code (its config records
the folder it came from), and the model itself (a loss at init clearly below the prior's entropy, which a
random head cannot reach: measured by the sanity stage). Pure: no config, no gates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from torch import nn

from ..errors import InputError
from .adapters import base_of
from .head import find_head, tied_to_input
from .pretrained import Loaded

DECLARED = "model_pretrained"


@dataclass(frozen=True)
class Pretraining:
    """A model known to start pretrained: `source` says how that is known (for the report); `head` whether its
    final layer is pretrained as well (False: a new head for a new task, whose bias init_bias sets)."""

    source: str
    head: bool

    def describe(self, head_name: Optional[str]) -> str:
        part = f"its final layer {head_name}" if head_name else "its final layer"
        return f"pretrained ({self.source}); {part} is {'pretrained' if self.head else 'new'}"


def known_pretraining(
    model: nn.Module, size: int, head: Optional[str], loaded: Optional[Loaded], declared: Optional[bool]
) -> Optional[Pretraining]:
    """What the declaration, init_from's load and a Hugging Face config say, before any loss is measured.
    None: nothing says the model is pretrained (the sanity stage may still find it from the loss at init)."""
    if declared is False:
        return None
    new_head = _head_keys(base_of(model), size, head)  # under adapters: the user's model's own key names
    if loaded is not None and loaded.loaded:
        fresh = [k for k in new_head if k not in loaded.loaded]
        return Pretraining(f"init_from loaded {len(loaded.loaded)} keys", head=not fresh)
    if declared:
        return Pretraining(f"declared: {DECLARED}=true", head=True)
    origin = hf_origin(model)
    if origin is not None and _tied_head(model):
        return Pretraining(f"Hugging Face from_pretrained({origin!r})", head=True)
    return None


def hf_origin(model: nn.Module) -> Optional[str]:
    """The folder a transformers model was loaded from (`config._name_or_path`), if it names one: a model
    built from a config alone records '' there."""
    config = getattr(model, "config", None)
    origin = getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None)
    return str(origin) if origin and (os.sep in str(origin) or os.path.exists(str(origin))) else None


def from_the_loss(loss: float, prior: float, se: float, z: float, gain: float) -> bool:
    """A loss at init clearly below the prior's entropy: `gain` of it below, and `z` standard errors more. A
    random head adds loss to the prior's, it cannot take it away: the model has learned this task before."""
    return loss < prior * (1 - gain) - z * se


def from_a_notebook(loss: float, prior: float) -> Pretraining:
    return Pretraining(f"its loss at init, {loss:.4f}, is clearly below the prior's {prior:.4f}", head=True)


def hf_body(model: nn.Module) -> Optional[Pretraining]:
    """A transformers model from from_pretrained whose head is not tied and whose loss at init is not below the
    prior's: a pretrained body under a head taken as new (as from_pretrained builds for a new task)."""
    origin = hf_origin(model)
    if origin is None:
        return None
    return Pretraining(
        f"Hugging Face from_pretrained({origin!r}); its loss at init is not below the prior's, so its head is taken "
        f"as new and its bias set from the data ({DECLARED}=true if the head is pretrained)",
        head=False,
    )


def refuse_nothing_trainable(model: nn.Module) -> None:
    """A model with every parameter frozen cannot train: refuse it before the first step (exit 2)."""
    params = list(model.parameters())
    if params and not any(p.requires_grad for p in params):
        raise InputError(
            f"every one of the model's {len(params)} parameter tensors is frozen (requires_grad=False): nothing "
            "would train. Unfreeze what should learn (e.g. the head: model.head.requires_grad_(True)), or add "
            "adapters (peft)"
        )


def _head_keys(model: nn.Module, size: int, head: Optional[str]) -> list[str]:
    """The state-dict keys of the final layer (with a bias of the output size, or the output embedding)."""
    name, module = find_head(model, size, head)
    if module is None:
        getter = getattr(model, "get_output_embeddings", None)
        module = getter() if callable(getter) else None
        name = next((n for n, m in model.named_modules() if m is module), None) if module is not None else None
    if module is None or name is None:
        return []
    keys = [f"{name}.{key}" if name else key for key in module.state_dict()]
    return [k.replace(".base_layer.", ".") for k in keys if ".lora_" not in k]  # a LoRA layer's own weights


def _tied_head(model: nn.Module) -> bool:
    """A final layer that shares its weight with the input embedding (GPT-2): pretrained with the body."""
    getter = getattr(model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    return isinstance(head, nn.Module) and tied_to_input(model, head) is not None
