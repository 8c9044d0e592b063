import math

import pytest

from saneloop.checks.init_bias import InitBiasSettings as Settings
from saneloop.checks.init_bias import judge as bias_from_data
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

IMBALANCED = ["data._target_=bench.plants.planted_digits", "+data.keep_per_minor_class=15"]


def test_unit_missing_bias_only_fails_when_prior_is_skewed():
    assert bias_from_data(None, "", math.nan, "", 0.01, Settings()).passed
    assert not bias_from_data(None, "", math.nan, "", 0.4, Settings()).passed


def test_bias_is_set_to_log_prior_on_imbalanced_data(tmp_path):
    code, report = run_pipeline(tmp_path, *IMBALANCED, *FAST, stop_after("init_bias"))
    assert gate(report, "init_bias")["status"] == "passed"
    assert gate(report, "init_bias")["value"] <= 0.1


def test_no_bias_head_on_imbalanced_data_halts(tmp_path):
    code, report = run_pipeline(
        tmp_path, *IMBALANCED, "model._target_=bench.plants.NoBiasMLP", *FAST, stop_after("init_bias")
    )
    assert "no final bias" in assert_halted_at(code, report, "sanity", "init_bias")["message"]


def test_no_bias_head_on_balanced_data_is_said_but_passes(tmp_path):
    code, report = run_pipeline(tmp_path, "model._target_=bench.plants.NoBiasMLP", *FAST, stop_after("init_bias"))
    found = gate(report, "init_bias")
    assert found["status"] == "passed" and "no final bias" in found["message"]


def test_scale_after_the_head_halts_on_imbalanced_data(tmp_path):
    """10 * logits: the bias no longer gives the prior (balanced classes would hide it: log p is flat)."""
    code, report = run_pipeline(
        tmp_path, *IMBALANCED, "model._target_=bench.plants.OutputScaledMLP", *FAST, stop_after("init_bias")
    )
    found = assert_halted_at(code, report, "sanity", "init_bias")
    assert found["value"] > 0.1 and "does not reach the output" in found["message"]


@pytest.mark.parametrize("model", ["bench.plants.ResidualMLP", "bench.plants.BatchNormDropoutMLP"])
def test_correct_models_whose_random_head_moves_the_mean_prediction_pass(tmp_path, model):
    """Unit-variance features into a default-initialised head move the mean prediction by ~0.1;
    the bias is still right, so the gate judges the model with the head's weights at zero."""
    code, report = run_pipeline(tmp_path, *IMBALANCED, f"model._target_={model}", *FAST, stop_after("init_bias"))
    found = gate(report, "init_bias")
    assert found["status"] == "passed" and found["value"] < 0.01, found["message"]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "init_bias")["status"] == "passed"
