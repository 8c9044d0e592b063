"""Find the model's final layer: the one whose bias the task sets from the data."""

from __future__ import annotations

from typing import Optional

from torch import nn

from ..errors import InputError


def find_head(model: nn.Module, size: int, name: Optional[str] = None) -> tuple[Optional[str], Optional[nn.Module]]:
    """The module named `name`, or else the last registered module with a bias of `size` elements.

    Returns (None, None) when the model has no such bias (the init_bias gate says what that means).
    """
    if name:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            raise InputError(
                f"model_head={name!r} is not a submodule of the model; choose one of: "
                f"{[n for n, _ in model.named_modules() if n][:20]}"
            ) from None
        if getattr(module, "bias", None) is None:
            raise InputError(f"model_head={name!r} has no bias to set from the data")
        return name, module
    found: tuple[Optional[str], Optional[nn.Module]] = (None, None)
    for module_name, module in model.named_modules():
        bias = getattr(module, "bias", None)
        if isinstance(bias, nn.Parameter) and bias.numel() == size:
            found = (module_name, module)
    return found


def bias_free_head(model: nn.Module, size: int) -> Optional[str]:
    """The final layer when it has no bias, described (e.g. "lm_head (Linear, no bias; its weight is tied
    to the input embedding `transformer.wte`)"); None when no such layer is found."""
    getter = getattr(model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    if not isinstance(head, nn.Module):
        head = next(
            (m for m in reversed(list(model.modules())) if isinstance(m, nn.Linear) and m.out_features == size), None
        )
    if head is None or getattr(head, "bias", None) is not None:
        return None
    name = next((n for n, m in model.named_modules() if m is head), "?")
    tied = tied_to_input(model, head)
    return f"{name} ({type(head).__name__}, no bias" + (
        f"; its weight is tied to the input embedding `{tied}`)" if tied else ")"
    )


def tied_to_input(model: nn.Module, head: nn.Module) -> Optional[str]:
    """The name of the embedding whose weight the head shares (weight tying), if any."""
    weight = getattr(head, "weight", None)
    for name, module in model.named_modules():
        if module is not head and isinstance(module, nn.Embedding) and module.weight is weight:
            return name
    return None
