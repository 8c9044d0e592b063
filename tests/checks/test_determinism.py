from saneloop.checks import identical_losses
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def test_unit_finds_first_differing_step():
    verdict = identical_losses([1.0, 0.9, 0.8], [1.0, 0.9, 0.7999])
    assert not verdict.passed and "step 2" in verdict.message
    assert identical_losses([1.0, 0.5], [1.0, 0.5]).passed


def test_unseeded_randomness_halts_at_setup(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.UnseededNoiseMLP", *FAST, stop_after("determinism")
    )
    found = assert_halted_at(code, report, "setup", "determinism")
    assert found["value"] > 0 and "unseeded" in found["message"]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "determinism")["status"] == "passed"
