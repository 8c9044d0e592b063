import torch

from saneloop.checks import targets_valid
from saneloop.tasks import Classify
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

PLANT = "data._target_=bench.plants.planted_digits"


def test_unit_names_out_of_range_indices():
    verdict = targets_valid(Classify(3), {"train": torch.tensor([0, 1, 3, 2, -1])})
    assert not verdict.passed
    assert "indices [2, 4]" in verdict.message


def test_labels_one_based_halt_at_setup(tmp_path):
    code, report = run_pipeline(tmp_path, PLANT, "+data.shift_labels=1", *FAST, stop_after("targets"))
    found = assert_halted_at(code, report, "setup", "targets")
    assert "subtract 1" in found["message"] and "outside [0, 10)" in found["message"]


def test_float_targets_halt_at_setup(tmp_path):
    code, report = run_pipeline(tmp_path, PLANT, "+data.float_targets=true", *FAST, stop_after("targets"))
    assert "torch.long" in assert_halted_at(code, report, "setup", "targets")["message"]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "targets")["status"] == "passed"
