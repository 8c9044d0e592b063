import math

from saneloop.checks.init_loss import InitLossSettings as Settings
from saneloop.checks.init_loss import judge as loss_matches
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline


def test_unit_two_sided_tolerance():
    assert loss_matches(2.35, math.log(10), "", Settings()).passed
    assert not loss_matches(5.0, math.log(10), "", Settings()).passed
    assert not loss_matches(0.5, math.log(10), "", Settings()).passed


def test_summed_loss_halts_at_sanity(tmp_path):
    code, report = run_pipeline(tmp_path, "task._target_=bench.plants.SummedLossClassify", *FAST)
    found = assert_halted_at(code, report, "sanity", "init_loss")
    assert found["value"] > 50 and "reduction='sum'" in found["message"]


def test_clean_run_matches_log_c(default_run):
    found = gate(default_run[1], "init_loss")
    assert found["status"] == "passed"
    assert abs(found["value"] - math.log(10)) / math.log(10) < 0.15
