from saneloop.checks.inputs_finite import judge as all_finite
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def test_unit_lists_indices_per_split():
    verdict = all_finite({"train": [4, 9], "test": []})
    assert not verdict.passed and "train indices [4, 9]" in verdict.message


def test_nan_inputs_halt_at_setup_naming_samples(tmp_path):
    code, report = run_pipeline(
        tmp_path, "data._target_=bench.plants.planted_digits", "+data.nan_at=[3,17]", *FAST, stop_after("inputs_finite")
    )
    found = assert_halted_at(code, report, "setup", "inputs_finite")
    assert "train indices [3, 17]" in found["message"] and found["value"] == 2


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "inputs_finite")["status"] == "passed"
