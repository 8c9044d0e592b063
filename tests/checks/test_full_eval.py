import torch

from saneloop.checks import every_example_once
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def test_unit_missing_and_duplicates():
    assert every_example_once(torch.arange(5), 5).passed
    assert not every_example_once(torch.tensor([0, 1, 2, 2, 4]), 5).passed
    assert not every_example_once(torch.arange(4), 5).passed


def test_eval_loader_dropping_last_batch_halts(tmp_path):
    code, report = run_pipeline(tmp_path, "loader.test.drop_last=true", *FAST, stop_after("full_eval"))
    found = assert_halted_at(code, report, "evaluate", "full_eval")
    assert found["value"] == 256 and found["expected"] == 449


def test_clean_run_counts_every_example(default_run):
    found = gate(default_run[1], "full_eval")
    assert found["status"] == "passed" and found["value"] == 449 == default_run[1]["metrics"]["count"]
