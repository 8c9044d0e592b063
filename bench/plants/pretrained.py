"""Models that arrive pretrained, as a notebook hands them to saneloop: trained before the run, saying nothing
of their past (issue 20). Their pretraining has its own seed and leaves the process's random state alone."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from saneloop.datasets import digits
from saneloop.models import MLP


def fit_on_digits(model: torch.nn.Module, items: int = 400, steps: int = 150) -> torch.nn.Module:
    """`model` trained in place, in a plain loop (Adam 1e-2, batches of 64 drawn from the global random state),
    on the first `items` training digits: a model pretrained before the run, as a notebook would."""
    train, _ = digits()
    x, y = train.tensors[0][:items], train.tensors[1][:items]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        batch = torch.randint(0, items, (64,))
        optimizer.zero_grad()
        F.cross_entropy(model(x[batch]), y[batch]).backward()
        optimizer.step()
    return model


class NotebookPretrainedMLP(MLP):
    """The classify recipe's MLP, trained for `steps` Adam steps on the first `items` training digits."""

    def __init__(self, in_features: int, out_features: int, items: int = 400, steps: int = 150, **kwargs) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            super().__init__(in_features, out_features, **kwargs)
            fit_on_digits(self, items, steps)
