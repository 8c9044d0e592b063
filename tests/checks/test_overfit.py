import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.zoo import ScaledHead
from saneloop.checks import overfit_batch
from saneloop.checks.overfit import OverfitSettings as Settings
from saneloop.tasks import Classify, Regress
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def _batch(n=8, classes=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=gen), torch.arange(n) % classes


def _mlp(out=4, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, out))


def _adam(lr):
    return lambda params: torch.optim.Adam(params, lr=lr)


def test_unit_memorises_and_stops_as_soon_as_every_example_is_right():
    x, y = _batch()
    verdict = overfit_batch(_mlp(), F.cross_entropy, x, y, _adam(1e-2), Settings(), 0.0, Classify(4).predicted_right)
    assert verdict.passed and verdict.details["steps"] < 200 and verdict.margin > 0.8
    assert verdict.value <= verdict.details["goal"] == pytest.approx(Settings().rtol * verdict.details["losses"][0])


def test_unit_goal_is_relative_to_the_start_so_units_do_not_matter():
    """A regressor with its head in the target's units, on targets standardised, raw (x77) and x1000: the
    same curve in other units, so the same steps and the same verdict (a fixed 0.01 would fail the last two)."""
    x, _ = _batch()
    task, verdicts = Regress(), []
    for scale in (1.0, 77.0, 77000.0):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), ScaledHead(32, scale))
        y = scale * torch.linspace(-1.5, 1.5, 8)
        verdicts.append(overfit_batch(model, task.loss, x, y, _adam(1e-2), Settings(), 0.0, task.predicted_right))
    assert all(v.passed for v in verdicts)
    assert len({v.details["steps"] for v in verdicts}) == 1


def test_unit_a_softmax_before_cross_entropy_flattens_above_the_goal():
    x, y = _batch()
    softmaxed = lambda o, t: F.cross_entropy(o.softmax(-1), t)
    verdict = overfit_batch(_mlp(), softmaxed, x, y, _adam(1e-2), Settings(), 0.0, Classify(4).predicted_right)
    assert not verdict.passed and "flattened above the goal" in verdict.message
    assert verdict.details["steps"] < Settings().max_steps  # it says so without spending the whole budget


def test_unit_a_learning_rate_far_too_low_is_still_falling_when_the_budget_runs_out():
    x, y = _batch()
    verdict = overfit_batch(_mlp(), F.cross_entropy, x, y, _adam(1e-5), Settings(max_steps=400), 0.0)
    assert not verdict.passed and "still falling" in verdict.message and "learning rate too low" in verdict.message


def test_unit_a_learning_rate_far_too_high_is_named_as_such():
    x, y = _batch()
    sgd = lambda params: torch.optim.SGD(params, lr=50.0)
    verdict = overfit_batch(_mlp(), F.cross_entropy, x, y, sgd, Settings(), 0.0, Classify(4).predicted_right)
    assert not verdict.passed and "learning rate too high" in verdict.message


@pytest.mark.parametrize("model", ["SoftmaxMLP", "FrozenMLP"])
def test_model_that_cannot_memorise_halts_at_overfit(tmp_path, model):
    # FrozenMLP learns nothing from its inputs, which the earlier input_independent gate sees first
    code, report = run_pipeline(
        tmp_path,
        f"model._target_=bench.plants.{model}",
        "gates.input_independent.waive='testing overfit'",
        *FAST,
        stop_after("overfit"),
    )
    found = assert_halted_at(code, report, "overfit", "overfit")
    assert "a softmax or sigmoid before a loss that expects logits" in found["message"]
    assert "gates.overfit.max_steps=500" in found["message"]


def test_dropout_model_still_overfits(tmp_path):
    code, report = run_pipeline(tmp_path, "model.dropout=0.5", *FAST, stop_after("overfit"))
    assert gate(report, "overfit")["status"] == "passed"


def test_batch_size_and_budget_come_from_config(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "gates.overfit.batch_size=4",
        "gates.overfit.max_steps=3",
        "gates.overfit.ceiling=3",  # no steps past the budget either
        *FAST,
        stop_after("overfit"),
    )
    found = assert_halted_at(code, report, "overfit", "overfit")
    assert "4 examples" in found["message"] and "in 3 steps" in found["message"]
    assert "gates.overfit.ceiling=3" in found["message"]
    assert "still falling" in found["message"]


def test_waiver_is_recorded_and_run_goes_on(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "model._target_=bench.plants.SoftmaxMLP",
        "gates.overfit.waive='known softmax head, testing'",
        *FAST,
        "stop_after=capacity",  # the stage after overfit's: the run went on
    )
    assert gate(report, "overfit")["status"] == "waived"
    assert [w["gate"] for w in report["waivers"]] == ["overfit"]
    assert "known softmax head" in report["waivers"][0]["message"]
    assert report["stages"][-1]["name"] != "overfit"


def test_clean_run_passes(default_run):
    found = gate(default_run[1], "overfit")
    assert found["status"] == "passed" and "every example right" in found["message"]


def _raw_scale_regression(seed=1):
    """8 diabetes rows on their raw scale (mean ~150, variance ~5,000), the head's bias at their mean."""
    from sklearn.datasets import load_diabetes

    from saneloop.models.mlp import MLP

    x, y = (torch.tensor(a[:200], dtype=torch.float32) for a in load_diabetes(return_X_y=True))
    torch.manual_seed(seed)
    rows = torch.randperm(200)[:8]
    model = MLP(10, 1, hidden=32)
    with torch.no_grad():
        model.head.bias.fill_(float(y.mean()))
    return model, ((x - x.mean(0)) / x.std(0))[rows], y[rows]


def test_unit_a_raw_scale_regressor_at_a_small_lr_trains_past_the_budget_and_memorises():
    """It halted at 500 steps "still falling ... the goal about 192 more steps away"; it memorises at ~700."""
    model, x, y = _raw_scale_regression()
    task = Regress()
    verdict = overfit_batch(model, task.loss, x, y, _adam(5e-4), Settings(), 0.0, task.predicted_right)
    assert verdict.passed and "memorised" in verdict.message
    assert Settings().max_steps < verdict.details["steps"] <= Settings().ceiling


@pytest.mark.parametrize("broken", ["inputs zeroed", "lr 0"])
def test_unit_a_regressor_that_cannot_memorise_still_flattens_above_the_goal(broken):
    model, x, y = _raw_scale_regression()
    task = Regress()
    x, lr = (0 * x, 1e-2) if broken == "inputs zeroed" else (x, 0.0)
    sgd = lambda params: torch.optim.SGD(params, lr=lr) if lr == 0 else torch.optim.Adam(params, lr=lr)
    verdict = overfit_batch(model, task.loss, x, y, sgd, Settings(), 0.0, task.predicted_right)
    assert not verdict.passed and "flattened above the goal" in verdict.message
    assert verdict.details["steps"] <= Settings().max_steps  # no steps past the budget for a flat curve


def test_unit_the_ceiling_reached_while_still_falling_passes_with_a_note_unless_the_goal_is_far_beyond():
    model, x, y = _raw_scale_regression()
    task = Regress()
    near = Settings(max_steps=100, ceiling=150, reach=50.0)
    verdict = overfit_batch(model, task.loss, x, y, _adam(5e-4), near, 0.0, task.predicted_right)
    assert verdict.passed and "not yet memorised at the ceiling of 150 steps" in verdict.message
    far = Settings(max_steps=100, ceiling=150, reach=1.5)
    verdict = overfit_batch(model, task.loss, x, y, _adam(5e-4), far, 0.0, task.predicted_right)
    assert not verdict.passed and "still falling" in verdict.message and "beyond 1.5 x the ceiling" in verdict.message
