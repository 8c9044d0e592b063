import math

import pytest

from saneloop.checks.input_independent import InputIndependentSettings as Settings
from saneloop.checks.input_independent import judge
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline


def test_unit_ratio_decides():
    assert judge(0.3, 2.3, Settings()).passed
    assert not judge(2.2, 2.3, Settings()).passed
    assert not judge(math.nan, 2.3, Settings()).passed


@pytest.mark.parametrize("split", ["train", "test"])
def test_labels_shuffled_apart_from_inputs_halt_at_baselines(tmp_path, split):
    flags = (
        ["data.train_labels=true", "data.test_labels=false"]
        if split == "train"
        else ["data.train_labels=false", "data.test_labels=true"]
    )
    code, report = run_pipeline(
        tmp_path, "data._target_=bench.plants.shuffled_digits", *[f"+{f}" for f in flags], *FAST
    )
    found = assert_halted_at(code, report, "baselines", "input_independent")
    assert found["value"] > 0.9 and "labels shuffled apart from the inputs" in found["message"]


def test_clean_run_passes(default_run):
    found = gate(default_run[1], "input_independent")
    assert found["status"] == "passed" and found["value"] < 0.5
