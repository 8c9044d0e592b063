import torch

from saneloop.checks.eval_repeatable import first_rows, repeatable_eval
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def test_unit_identical_passes_and_any_difference_fails():
    out = torch.randn(5, 3)
    assert repeatable_eval(out, out.clone(), {"accuracy": 0.5}, {"accuracy": 0.5}).passed
    verdict = repeatable_eval(out, out + 1e-6, {"accuracy": 0.5}, {"accuracy": 0.5})
    assert not verdict.passed and verdict.value > 0


def test_dropout_at_eval_halts_at_evaluate(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.EvalDropoutMLP", *FAST, stop_after("eval_repeatable")
    )
    found = assert_halted_at(code, report, "evaluate", "eval_repeatable")
    assert "training=self.training" in found["message"]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "eval_repeatable")["status"] == "passed"


def test_unit_first_rows_are_the_first_passs_rows_of_those_items_cut_to_the_second_passs_positions():
    outputs = torch.arange(5 * 4 * 2, dtype=torch.float).reshape(5, 4, 2)  # 5 items, padded to 4 positions
    targets = torch.arange(20).reshape(5, 4)
    again = torch.zeros(2, 3, 2)  # items 1 and 3 again, in batches padded to 3 positions
    found, tgt = first_rows(outputs, targets, torch.arange(5), torch.tensor([1, 3]), again)
    assert torch.equal(found, outputs[[1, 3], :3]) and torch.equal(tgt, targets[[1, 3], :3])
    flat, _ = first_rows(outputs[:, 0], targets[:, 0], torch.arange(5), torch.tensor([4]), again[:, 0])
    assert torch.equal(flat, outputs[[4], 0])


def test_the_second_evaluation_reads_the_first_batches_not_the_whole_validation_set(tmp_path):
    """gates.eval_repeatable.max_items=20 in batches of 16: the first 2 batches (32 of ~135 items)."""
    small = ("loader.test.batch_size=16", "gates.eval_repeatable.max_items=20", "train.max_steps=5")
    code, report = run_pipeline(tmp_path, *FAST, *small, stop_after("eval_repeatable"))
    found = gate(report, "eval_repeatable")
    assert found["status"] == "passed" and "identical outputs (32 examples)" in found["message"], found
