import torch

from bench import plants
from saneloop.checks.modes import ModeWatch, switches_both_ways
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

X = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_clean_models_switch_both_ways():
    for model in (plants.BatchNormDropoutMLP(64, 10, hidden=32, dropout=0.2), plants.ResidualMLP(64, 10)):
        verdict = switches_both_ways(model, X)
        assert verdict.passed, verdict.message


def test_a_model_handed_over_in_eval_with_a_train_override_that_stops_at_the_root_fails():
    verdict = switches_both_ways(plants.EvalLockedMLP(64, 10, hidden=32, dropout=0.2), X)
    assert not verdict.passed and "after model.train(), [body, body.0" in verdict.message


def test_batchnorm_that_moves_its_statistics_in_eval_fails():
    verdict = switches_both_ways(plants.StuckBatchNormMLP(64, 10, hidden=32), X)
    assert not verdict.passed and "moved BatchNorm statistics [body.2.running_mean" in verdict.message


def test_the_watch_sees_a_validate_step_that_leaves_eval_on():
    model = plants.ValidateInForwardMLP(64, 10, hidden=32, dropout=0.2, every=3)
    model.train()
    with ModeWatch(model, True, "train_mode") as watch:
        for _ in range(5):
            model(X).sum().backward()
    verdict = watch.verdict()
    assert not verdict.passed and "from training step 4 of 5" in verdict.message


def test_the_watch_sees_batchnorm_adapted_on_large_test_batches():
    model = plants.TestTimeBatchNormMLP(64, 10, hidden=32)
    model.eval()
    with torch.no_grad(), ModeWatch(model, False, "eval_mode") as watch:
        model(X)  # 64: not adapted
        assert watch.verdict().passed
        model(torch.cat([X, X, X]))  # 192
    assert not watch.verdict().passed and "moved BatchNorm statistics" in watch.verdict().message


def test_pipeline_halts_in_train_when_a_validate_step_leaves_eval_on(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        *FAST,
        "model._target_=bench.plants.ValidateInForwardMLP",
        "model.dropout=0.2",
        stop_after("train_mode"),
    )
    found = assert_halted_at(code, report, "train", "train_mode")
    assert "from training step 31 of 57" in found["message"]  # switched inside step 30


def test_pipeline_halts_in_evaluate_on_batchnorm_adapted_to_test_batches(tmp_path):
    code, report = run_pipeline(
        tmp_path, *FAST, "model._target_=bench.plants.TestTimeBatchNormMLP", stop_after("eval_mode")
    )
    assert_halted_at(code, report, "evaluate", "eval_mode")
    assert gate(report, "modes")["status"] == "passed"  # sanity's probe batch is a training-size batch
