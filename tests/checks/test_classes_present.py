import torch

from saneloop.checks import all_classes_present
from saneloop.tasks import Classify
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline


def test_unit_names_missing_class():
    verdict = all_classes_present(Classify(4), torch.tensor([0, 1, 3, 3]))
    assert not verdict.passed and verdict.value == [2]


def test_missing_class_halts_at_setup(tmp_path):
    code, report = run_pipeline(tmp_path, "data._target_=bench.plants.planted_digits", "+data.drop_class=7", *FAST)
    assert assert_halted_at(code, report, "setup", "classes_present")["value"] == [7]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "classes_present")["status"] == "passed"
