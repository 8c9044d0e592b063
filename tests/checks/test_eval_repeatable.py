import torch

from saneloop.checks.eval_repeatable import repeatable_eval
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
