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
