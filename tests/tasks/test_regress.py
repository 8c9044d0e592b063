"""Regress: the task's numbers, the default recipe end to end, and the bugs its gates exist to catch."""

import math

import pytest
import torch

from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from saneloop.tasks import Regress
from tests.conftest import assert_every_gate_passed, assert_halted_at, gate, not_applicable, run_pipeline, stop_after

QUIET = ["output.progress=false", "output.save_weights=false"]
RAW_TARGETS = ["data.target_shift=0", "data.target_scale=1"]  # diabetes in its own units: mean 152, variance 5930


def test_unit_init_loss_is_the_variance_and_bias_the_mean():
    task, y = Regress(), torch.tensor([1.0, 2.0, 3.0, 6.0])
    assert task.expected_init_loss(y)[0] == pytest.approx(3.5)
    bias = torch.zeros(1)
    task.init_bias(bias, y)
    assert float(bias) == pytest.approx(3.0)
    assert task.prior_gap(torch.full((4, 1), 3.0), y)[0] == pytest.approx(0.0)
    assert task.prior_gap(torch.zeros(4), y)[0] == pytest.approx(3.0 / math.sqrt(3.5))


def test_unit_loss_does_not_broadcast_b1_against_b():
    task = Regress()
    assert float(task.loss(torch.tensor([[1.0], [2.0]]), torch.tensor([1.0, 2.0]))) == 0.0


def test_unit_metrics_in_original_units():
    task = Regress(target_shift=100.0, target_scale=10.0)
    true = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    m = task.metrics(true + 0.5, true)  # off by half a unit = 5 original units everywhere
    assert m["rmse"] == pytest.approx(5.0) and m["mae"] == pytest.approx(5.0) and m["loss"] == pytest.approx(0.25)
    assert m["r2"] == pytest.approx(1 - 0.25 / 1.25)
    assert task.baselines(true, true)["mean_r2"] == pytest.approx(0.0)
    assert task.view_predictions(true[:2], true[:2]).targets == [90.0, 100.0]


def test_unit_output_and_target_contract():
    task = Regress()
    assert task.output_problem(torch.zeros(4, 1), 4) is None and task.output_problem(torch.zeros(4), 4) is None
    assert "[B] or [B, 1]" in task.output_problem(torch.zeros(4, 2), 4)
    assert "float" in task.target_problems(torch.tensor([1, 2]))[0].why
    assert task.target_problems(torch.tensor([[1.0], [2.0]])) == []


def test_default_recipe_passes_every_gate_with_r2_above_04(tmp_path):
    code, report = run_pipeline(tmp_path, *QUIET, recipe="regress")
    assert code == EXIT_PASSED, report
    assert_every_gate_passed(report, not_applicable("regress"))
    assert report["metrics"]["r2"] >= 0.4 and report["metrics"]["r2"] > report["baselines"]["mean_r2"] + 0.4
    assert 40 < report["metrics"]["rmse"] < report["baselines"]["mean_rmse"]  # original units (std 77)
    assert "standardised units" in gate(report, "init_loss")["message"]


def test_raw_targets_start_at_their_own_mean_and_variance(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        *RAW_TARGETS,
        *QUIET,
        stop_after("init_loss"),
        recipe="regress",
    )
    # the mean of the 232 training rows (data.val_size=99 of the 331 hold out validation): 155
    assert gate(report, "init_bias")["status"] == "passed" and "(155)" in gate(report, "init_bias")["message"]
    found = gate(report, "init_loss")
    assert found["status"] == "passed" and 5000 < found["value"] < 7000


def test_head_without_bias_on_raw_targets_halts_at_init_bias(tmp_path):
    """A bias-free head predicts ~0 for targets around 155: 2 standard deviations off."""
    code, report = run_pipeline(
        tmp_path,
        *RAW_TARGETS,
        "model._target_=bench.plants.NoBiasMLP",
        *QUIET,
        stop_after("init_bias"),
        recipe="regress",
    )
    found = assert_halted_at(code, report, "sanity", "init_bias")
    assert "no final bias" in found["message"] and "gap 2.0" in found["message"]  # 232 training rows


def test_head_without_bias_on_zero_mean_targets_is_fine(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "model._target_=bench.plants.NoBiasMLP",
        *QUIET,
        stop_after("init_loss"),
        recipe="regress",
    )
    assert gate(report, "init_bias")["status"] == "passed" and gate(report, "init_loss")["status"] == "passed"


def test_model_with_two_outputs_is_refused_before_training(tmp_path):
    code, report = run_pipeline(tmp_path, "model.out_features=2", *QUIET, recipe="regress")
    assert code == EXIT_INPUT_ERROR and "regress expects one value per sample" in report["error"]
    assert [s["name"] for s in report["stages"]] == ["setup"]


def test_unit_batch_view_is_a_table_in_original_units():
    view = Regress(target_shift=152.0, target_scale=77.0).view_batch(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))
    assert view.columns == ["x0", "x1", "x2", "target"] and [row[-1] for row in view.rows] == [152.0, 229.0]
