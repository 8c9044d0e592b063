import pytest

from tests.conftest import FAST, assert_halted_at, gate, run_pipeline


@pytest.mark.parametrize("model", ["SoftmaxMLP", "FrozenMLP"])
def test_model_that_cannot_memorise_halts_at_overfit(tmp_path, model):
    # FrozenMLP learns nothing from its inputs, which the earlier input_independent gate sees first
    code, report = run_pipeline(
        tmp_path, f"model._target_=bench.plants.{model}", "gates.input_independent.waive='testing overfit'", *FAST
    )
    found = assert_halted_at(code, report, "overfit", "overfit")
    assert found["value"] > 0.01 and "gates.overfit.max_steps=300" in found["message"]


def test_dropout_model_still_overfits(tmp_path):
    code, report = run_pipeline(tmp_path, "model.dropout=0.5", *FAST)
    assert gate(report, "overfit")["status"] == "passed"


def test_batch_size_and_budget_come_from_config(tmp_path):
    code, report = run_pipeline(tmp_path, "gates.overfit.batch_size=4", "gates.overfit.max_steps=3", *FAST)
    found = assert_halted_at(code, report, "overfit", "overfit")
    assert "4 examples" in found["message"] and "in 3 steps" in found["message"]


def test_waiver_is_recorded_and_run_goes_on(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.SoftmaxMLP", "gates.overfit.waive='known softmax head, testing'", *FAST
    )
    assert gate(report, "overfit")["status"] == "waived"
    assert [w["gate"] for w in report["waivers"]] == ["overfit"]
    assert "known softmax head" in report["waivers"][0]["message"]
    assert report["stages"][-1]["name"] != "overfit"


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "overfit")["status"] == "passed"
