"""A model whose pretrained body is frozen (a linear probe on pretrained features): built, then every
parameter outside `trainable` is set requires_grad=False. init_from loads into it afterwards (loading keeps
requires_grad), and params_learn lists the frozen tensors instead of halting."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from saneloop.models import MLP


def frozen_mlp(trainable: Sequence[str] = ("head",), **mlp_args) -> nn.Module:
    """saneloop's MLP with only the modules named in `trainable` left to train."""
    model = MLP(**mlp_args)
    for name, param in model.named_parameters():
        param.requires_grad_(any(name == t or name.startswith(f"{t}.") for t in trainable))
    return model
