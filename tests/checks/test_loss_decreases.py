import torch

from saneloop.checks import loss_decreased
from saneloop.checks.loss_decreases import LossDecreasesSettings as Settings
from saneloop.checks.loss_decreases import needs_more
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def _noisy(curve: torch.Tensor, sd: float, seed: int = 0) -> torch.Tensor:
    return curve + sd * torch.randn(len(curve), generator=torch.Generator().manual_seed(seed))


def test_unit_a_clear_drop_beyond_the_noise_passes_a_flat_or_nan_curve_fails():
    assert loss_decreased(torch.linspace(2, 0.1, 100), Settings()).passed
    flat = loss_decreased(_noisy(torch.full((100,), 2.0), 0.1), Settings())
    assert not flat.passed and "stayed flat" in flat.message and "far too low" in flat.message
    assert not loss_decreased(torch.linspace(2, 0.1, 100), Settings(), nonfinite_step=7).passed


def test_unit_a_target_that_is_90_percent_noise_needs_not_halve_its_loss():
    """A model that learned the 10% of the variance that is signal: per example, the squared error falls from
    y^2 to noise^2. A fixed ratio of 0.5 or 0.75 would halt it; paired example by example, the fall is clear."""
    gen = torch.Generator().manual_seed(0)
    signal, noise = 0.1**0.5 * torch.randn(4096, generator=gen), 0.9**0.5 * torch.randn(4096, generator=gen)
    before, after = (signal + noise) ** 2, noise**2
    steps = _noisy(torch.full((500,), 0.95), 0.2)  # per-step losses: too noisy to tell on their own
    verdict = loss_decreased(steps, Settings(), before=before, after=after)
    assert verdict.passed and verdict.value > 0.8, verdict.message


def test_unit_more_examples_are_asked_for_only_while_a_fall_is_positive_but_unclear():
    gen = torch.Generator().manual_seed(1)
    before = torch.rand(512, generator=gen)
    assert needs_more(before, before - 0.01 + 0.1 * torch.randn(512, generator=gen), Settings())
    assert not needs_more(before, before - 0.5, Settings())  # clear
    assert not needs_more(before, before + 0.1, Settings())  # it rose: more examples will not help


def test_unit_scale_free():
    curve = _noisy(torch.linspace(1.0, 0.8, 300), 0.1)
    before, after = curve[:100] + 0.2, curve[:100]
    verdicts = [loss_decreased(curve * s, Settings(), None, None, before * s, after * s) for s in (1.0, 5900.0, 5.9e9)]
    assert len({v.passed for v in verdicts}) == 1 and len({round(v.margin, 6) for v in verdicts}) == 1


def test_unit_a_learning_rate_far_too_high_oscillates_or_diverges():
    swings = loss_decreased(_noisy(torch.full((200,), 2.0), 1.5), Settings(), lr=3.0)
    assert not swings.passed and "optim.lr=3" in swings.message


def test_zero_learning_rate_halts_at_train(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "optim.lr=0.0",
        "gates.overfit.waive='lr 0 on purpose'",
        "gates.input_independent.waive='lr 0 on purpose'",
        *FAST,
        stop_after("loss_decreases"),
    )
    found = assert_halted_at(code, report, "train", "loss_decreases")
    assert found["value"] > 0.9 and "stayed flat" in found["message"]


def test_nan_loss_halts_at_train(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "optim.lr=1e30",
        "optim=sgd",
        "gates.overfit.waive='testing'",
        "gates.input_independent.waive='testing'",
        "gates.capacity.waive='testing'",
        *FAST,
        stop_after("loss_decreases"),
    )
    found = assert_halted_at(code, report, "train", "loss_decreases")
    assert "NaN/Inf" in found["message"]


def test_clean_run_passes(default_run):
    found = gate(default_run[1], "loss_decreases")
    assert found["status"] == "passed" and found["margin"] > 1
