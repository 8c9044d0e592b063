"""The one per-example loss path: a task's vectorised `per_example_loss` only while it agrees with its `loss`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from saneloop.checks.measure.per_example import example_loss
from saneloop.tasks import Classify
from tests.conftest import REPO


class SummedLoss(Classify):
    """`loss` overridden alone (summed over the batch): `per_example_loss` no longer agrees with it."""

    def loss(self, output, target):
        return F.cross_entropy(output, target, reduction="sum")


def _outputs():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, generator=gen), torch.randint(0, 3, (8,), generator=gen)


def test_a_per_example_loss_that_agrees_with_the_loss_is_used():
    logits, targets = _outputs()
    scorer = example_loss(Classify(3))
    losses = scorer(logits, targets, 8)
    assert scorer.agrees and torch.allclose(losses, F.cross_entropy(logits, targets, reduction="none").double())


def test_a_per_example_loss_that_disagrees_is_not_used_the_loss_is_taken_per_example():
    logits, targets = _outputs()
    scorer = example_loss(SummedLoss(3))
    losses = scorer(logits, targets, 8)
    assert scorer.agrees is False
    assert torch.allclose(
        losses, torch.stack([SummedLoss(3).loss(logits[i : i + 1], targets[i : i + 1]) for i in range(8)]).double()
    )


def test_no_module_takes_a_per_example_loss_but_the_checked_path():
    allowed = {REPO / "saneloop" / "checks" / "measure" / "per_example.py"}
    found = [
        p.relative_to(REPO)
        for p in (REPO / "saneloop").rglob("*.py")
        if p not in allowed and p.parent.name != "tasks" and "per_example_loss" in p.read_text()
    ]
    assert not found, f"take per-example losses through checks/measure/per_example.py (ExampleLoss), not in {found}"
