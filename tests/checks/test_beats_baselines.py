from saneloop.checks import above_baselines
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

BASE = {"chance": 0.1, "majority": 0.11}


def test_unit_must_beat_every_baseline_by_two_standard_errors():
    assert above_baselines("accuracy", 0.9, BASE, se=0.01).passed
    assert not above_baselines("accuracy", 0.12, BASE, se=0.01).passed  # above, but within noise
    assert not above_baselines("accuracy", 0.05, BASE).passed


def test_unit_human_figure_is_reported_not_required():
    above = above_baselines("accuracy", 0.99, {**BASE, "human": 0.95}, se=0.005)
    below = above_baselines("accuracy", 0.90, {**BASE, "human": 0.95}, se=0.005)
    assert above.passed and "above the human figure 0.9500" in above.message
    assert below.passed and "below the human figure 0.9500" in below.message
    assert "no human figure given <baselines.human=...>" in above_baselines("accuracy", 0.9, BASE).message


def test_unit_lower_is_better_metrics():
    assert above_baselines("mse", 0.2, {"mean": 1.0}, higher_is_better=False).passed
    assert not above_baselines("mse", 1.2, {"mean": 1.0}, higher_is_better=False).passed


def test_misaligned_test_labels_halt_at_evaluate(tmp_path):
    """Test labels shuffled apart from test inputs; the input-independent gate (which would see it
    first, on test batches) is turned off to show the last line of defence."""
    code, report = run_pipeline(
        tmp_path,
        "data._target_=bench.plants.shuffled_digits",
        "+data.train_labels=false",
        "+data.test_labels=true",
        "gates.input_independent.enabled=false",
        "baselines.human=0.98",
        *FAST,
        stop_after("beats_baselines"),
    )
    found = assert_halted_at(code, report, "evaluate", "beats_baselines")
    assert "does not beat" in found["message"] and "below the human figure 0.9800" in found["message"]


def test_clean_run_passes(default_run):
    found = gate(default_run[1], "beats_baselines")
    assert found["status"] == "passed" and "chance 0.1000" in found["message"] and found["value"] > 0.8


def test_unit_a_lead_a_small_held_out_set_cannot_confirm_is_inconclusive_not_a_halt():
    """zoo reg_diabetes_raw_mlp seed 0: validation R^2 0.24 +- 0.12 on 99 rows, 2 standard errors a bar of a
    quarter of the room to R^2 = 1. Ahead by 1 standard error: a note, not a halt; at or below: a halt."""
    small = above_baselines("r2", 0.2447, {"mean_r2": -0.0001}, se=0.1245, power=0.2)
    assert small.passed and small.message.startswith("inconclusive") and small.details["inconclusive"]
    assert not above_baselines("r2", 0.2447, {"mean_r2": -0.0001}, se=0.1245).passed  # power off: as before
    assert not above_baselines("r2", 0.10, {"mean_r2": 0.0}, se=0.1245, power=0.2).passed  # within 1 se
    assert not above_baselines("r2", -0.54, {"mean_r2": 0.0}, se=0.18, power=0.2).passed  # targets off by one


def test_unit_a_held_out_set_with_power_still_needs_two_standard_errors():
    """135 digits: accuracy's standard error is small beside the room above chance: 1.9 se is a halt."""
    assert not above_baselines("accuracy", 0.15, BASE, se=0.021, power=0.2).passed
