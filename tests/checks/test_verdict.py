"""A verdict reads well in a notebook: its repr is short however much a gate measured, its details intact."""

import torch

from saneloop.checks.base.verdict import failed, passed


def test_a_verdict_with_hundreds_of_numbers_prints_in_a_few_lines():
    losses = [0.5 + i / 1000 for i in range(500)]
    verdict = passed(
        "loss_decreases", 0.4, 0.9, "training loss fell", losses=losses, outputs=torch.arange(4000.0).reshape(40, 100)
    )
    for shown in (repr(verdict), str(verdict)):
        assert len(shown) < 600, shown
        assert "loss_decreases" in shown and "training loss fell" in shown
        assert "500 items" in shown and "min 0.5" in shown and "max 0.999" in shown  # summarised, not dropped
        assert "tensor [40, 100]" in shown
    assert verdict.details["losses"] == losses and verdict.details["outputs"].shape == (40, 100)  # kept whole


def test_a_short_verdict_is_shown_in_full():
    verdict = failed("classes_present", [7], [], "classes [7] never occur", where="train")
    shown = repr(verdict)
    assert "value=[7]" in shown and "'where': 'train'" in shown and "status='failed'" in shown
