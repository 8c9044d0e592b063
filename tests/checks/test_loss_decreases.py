import torch

from saneloop.checks import loss_decreased
from saneloop.checks.loss_decreases import LossDecreasesSettings as Settings
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline


def test_unit_ratio_and_nan():
    assert loss_decreased(torch.linspace(2, 0.1, 100), Settings()).passed
    assert not loss_decreased(torch.full((100,), 2.0), Settings()).passed
    assert not loss_decreased(torch.linspace(2, 0.1, 100), Settings(), nonfinite_step=7).passed


def test_zero_learning_rate_halts_at_train(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "optim.lr=0.0",
        "gates.overfit.waive='lr 0 on purpose'",
        "gates.input_independent.waive='lr 0 on purpose'",
        *FAST,
    )
    found = assert_halted_at(code, report, "train", "loss_decreases")
    assert found["value"] > 0.5


def test_nan_loss_halts_at_train(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "optim.lr=1e30",
        "optim=sgd",
        "gates.overfit.waive='testing'",
        "gates.input_independent.waive='testing'",
        "gates.capacity.waive='testing'",
        *FAST,
    )
    found = assert_halted_at(code, report, "train", "loss_decreases")
    assert "NaN/Inf" in found["message"]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "loss_decreases")["status"] == "passed"
