"""Planted optimizer bugs (partials: saneloop hands them the model's parameters)."""

from __future__ import annotations

import torch

from saneloop.models import MLP


class StepWithZeroedGrads(torch.optim.AdamW):
    """Bug: gradients zeroed between backward and step (zero_grad in the wrong place): every step sees zeros."""

    def step(self, closure=None):
        self.zero_grad(set_to_none=False)
        return super().step(closure)


class NeverZeroGrad(torch.optim.SGD):
    """Bug #33: zero_grad() never runs (a no-op), so gradients pile up over the steps (SGD with momentum)."""

    def zero_grad(self, set_to_none: bool = True):
        pass


def foreign_params_adamw(params, lr: float = 1e-3, weight_decay: float = 0.01):
    """Bug #34: the optimizer holds other parameters than the model's (built before a model swap)."""
    del params
    stale = MLP(in_features=4, out_features=2, hidden=8)
    return torch.optim.AdamW(stale.parameters(), lr=lr, weight_decay=weight_decay)
