from saneloop.checks.capacity import CapacitySettings as Settings
from saneloop.checks.capacity import judge as wider_no_worse
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def test_unit_paired_difference_within_noise_passes():
    base = [1.0, 0.9, 1.1, 0.8, 1.0, 0.9, 1.1, 0.8]
    assert wider_no_worse(base, [b - 0.1 for b in base], "w", Settings(window=0.5)).passed
    assert wider_no_worse(
        base, [b + (0.01 if k % 2 else -0.01) for k, b in enumerate(base)], "w", Settings(window=0.5)
    ).passed
    assert not wider_no_worse(base, [b + 0.4 for b in base], "w", Settings(window=0.5)).passed
    # 20% worse: within the relative allowance (two correlated 100-step curves end that far apart),
    # outside it when the allowance is off
    assert wider_no_worse(base, [b + 0.2 for b in base], "w", Settings(window=0.5)).passed
    assert not wider_no_worse(base, [b + 0.2 for b in base], "w", Settings(window=0.5, rtol=0.0)).passed


def test_narrower_model_halts_at_capacity(tmp_path):
    """'Wider' set to 4 hidden units: a model that fits worse must be caught."""
    code, report = run_pipeline(tmp_path, "gates.capacity.wider={model.hidden:4}", *FAST, stop_after("capacity"))
    found = assert_halted_at(code, report, "capacity", "capacity")
    assert found["value"] > 0 and "model.hidden=4" in found["message"]


def test_clean_run_passes(default_run):
    found = gate(default_run[1], "capacity")
    assert found["status"] == "passed" and "model.hidden=512" in found["message"]
