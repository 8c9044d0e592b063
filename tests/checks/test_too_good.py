from saneloop.checks.too_good import TooGoodSettings, too_good_too_fast
from tests.conftest import gate


def test_a_held_out_loss_near_zero_after_the_short_run_halts():
    verdict = too_good_too_fast(0.001, 2.3, 2.3, 100, TooGoodSettings())
    assert not verdict.passed and "leaked" in verdict.message and "waive" in verdict.message


def test_the_easiest_clean_task_passes_with_margin():
    # digit 0 against the rest (AUROC 1.0): after 100 steps 0.0062 against 0.2971 without inputs
    assert too_good_too_fast(0.0062, 0.2971, 0.3319, 100, TooGoodSettings()).passed
    assert too_good_too_fast(None, 0.3, 0.3, 100, TooGoodSettings()).status == "skipped"
    # a zeroed copy that diverged (SGD, BatchNorm, zero inputs: 42.8) is not the baseline; the prior is
    assert too_good_too_fast(0.0766, 42.77, 2.3018, 100, TooGoodSettings()).passed


def test_default_run_reports_its_ratio(default_run):
    _, report, _ = default_run
    found = gate(report, "too_good")
    # judged when input_independent decides: a correct model's held-out loss is far from "near zero"
    assert found["status"] == "passed" and found["value"] > 10 * TooGoodSettings().min_ratio
    assert "steps, held-out loss" in found["message"]


def test_a_held_out_loss_below_zero_names_nll_on_raw_logits():
    verdict = too_good_too_fast(-3.2, 2.3, 2.3, 100, TooGoodSettings())
    assert not verdict.passed and "F.nll_loss without log_softmax" in verdict.message
