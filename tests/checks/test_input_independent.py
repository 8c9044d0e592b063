import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bench.zoo import ScaledHead
from saneloop.checks import learns_from_inputs
from saneloop.checks.input_independent import InputIndependentSettings as Settings
from saneloop.checks.input_independent import schedule
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def _regression(n=600, noise=0.1, scale=1.0, related=True, seed=0):
    """y = scale * (x . w + noise): raw units when `scale` is large; `related=False` shuffles y apart from x."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    y = scale * (x @ torch.tensor([1.0, -1.0, 0.5, 0.0]) + noise * torch.randn(n, generator=gen))
    if not related:
        y = y[torch.randperm(n, generator=gen)]
    return TensorDataset(x[:400], y[:400]), TensorDataset(x[400:], y[400:])


def _model(bias: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    nn.init.constant_(model[2].bias, bias)  # the task's init: the target mean
    return model


def _mse(output, target):
    return F.mse_loss(output.reshape(-1), target.reshape(-1))


def _run(train, test, model, lr=1e-3, settings=Settings()):
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    opt = lambda params: torch.optim.Adam(params, lr=lr)
    return learns_from_inputs(model, loader, DataLoader(test, batch_size=64), _mse, opt, settings)


def test_unit_checks_double_from_first_check_to_the_budget():
    assert schedule(Settings(first_check=25, max_steps=2000)) == [25, 50, 100, 200, 400, 800, 1600, 2000]
    assert schedule(Settings())[:3] == [10, 20, 40]


def test_unit_stops_early_when_the_answer_is_clear():
    verdict = _run(*_regression(), _model())
    assert verdict.passed and verdict.details["steps"] <= 100 and verdict.details["z"] >= 3


def test_unit_raw_scale_regressor_trains_on_until_it_pulls_ahead():
    """Targets with mean 150 and variance ~2,000 (the issue's pattern): an MLP needs its weights to grow to
    the targets' scale, so at the old fixed 100 steps the two copies nearly tie; the gate trains on."""
    train, test = _regression(scale=33.0)
    shifted = tuple(TensorDataset(d.tensors[0], d.tensors[1] + 150.0) for d in (train, test))
    verdict = _run(*shifted, _model(bias=150.0), lr=3e-3)
    assert verdict.passed and verdict.details["steps"] > 100 and verdict.details["z"] >= 3, verdict.message


def test_unit_labels_unrelated_to_inputs_fail_once_nothing_improves():
    verdict = _run(*_regression(related=False), _model())
    assert not verdict.passed and verdict.details["steps"] >= Settings().min_steps
    assert "labels shuffled apart from the inputs" in verdict.message


def test_unit_a_lead_from_a_better_overall_rate_is_not_learning_from_the_inputs():
    """Binary labels unrelated to the inputs, 10% positive in training and 5% held out: a copy whose outputs
    drift toward the held-out rate can beat the zeroed copy on held-out loss; scored against other
    examples' targets its outputs do just as well, so it does not pass."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1600, 4, generator=gen)
    y = torch.cat([(torch.rand(1200, generator=gen) < 0.10), (torch.rand(400, generator=gen) < 0.05)]).float()
    train, test = TensorDataset(x[:1200], y[:1200]), TensorDataset(x[1200:], y[1200:])
    bce = lambda o, t: F.binary_cross_entropy_with_logits(o.reshape(-1), t.reshape(-1))
    loader = DataLoader(train, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    opt = lambda params: torch.optim.AdamW(params, lr=1e-2)
    verdict = learns_from_inputs(_model(bias=-2.2), loader, DataLoader(test, batch_size=64), bce, opt)
    assert not verdict.passed, verdict.message


def test_a_diverging_run_is_named_and_not_blamed_on_a_low_learning_rate(tmp_path):
    code, report = run_pipeline(tmp_path, "optim.lr=50", *FAST, stop_after("input_independent"))
    found = assert_halted_at(code, report, "baselines", "input_independent")
    assert "diverged" in found["message"] and "a learning rate too high (optim.lr=50)" in found["message"]
    assert "far too low" not in found["message"]


def test_unit_same_verdict_in_standardised_raw_and_x1000_units():
    """A model whose head is in the target's units learns the same weights in any units: every threshold
    being scale-free, the gate stops at the same step with the same statistics."""
    verdicts = []
    for scale in (1.0, 77.0, 77000.0):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), ScaledHead(16, scale))
        verdicts.append(_run(*_regression(scale=scale), model))
    assert all(v.passed for v in verdicts)
    assert len({v.details["steps"] for v in verdicts}) == 1
    z = [v.details["z"] for v in verdicts]
    assert max(z) - min(z) < 0.02 * z[0]  # float32 rounding apart


def test_labels_shuffled_apart_from_inputs_halt_at_baselines(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "data._target_=bench.plants.shuffled_digits",
        "+data.train_labels=true",
        "+data.test_labels=false",
        *FAST,
        stop_after("input_independent"),
    )
    found = assert_halted_at(code, report, "baselines", "input_independent")
    assert found["value"] > 0.9 and "labels shuffled apart from the inputs" in found["message"]


def test_test_labels_misaligned_pass_baselines_and_halt_at_evaluate(tmp_path):
    """The held-out comparison reads validation, never the test set (issue 23): test labels out of step
    with their inputs pass it, and the test split is named at the end, by beats_baselines."""
    code, report = run_pipeline(
        tmp_path,
        "data._target_=bench.plants.shuffled_digits",
        "+data.train_labels=false",
        "+data.test_labels=true",
        *FAST,
        stop_after("beats_baselines"),
    )
    assert gate(report, "input_independent")["status"] == "passed"
    found = assert_halted_at(code, report, "evaluate", "beats_baselines")
    assert found["message"].startswith("test accuracy") and "look at the test split itself" in found["message"]


def test_a_test_set_sorted_by_class_is_sampled_not_read_from_the_top(tmp_path):
    """Folder-per-class test sets list one class first: the held-out examples are a fixed random sample."""
    code, report = run_pipeline(
        tmp_path,
        "data._target_=bench.zoo.data.sorted_test",
        "+data.source=saneloop.datasets.digits",
        *FAST,
        stop_after("input_independent"),
    )
    found = gate(report, "input_independent")
    assert found["status"] == "passed" and "after 10 steps" in found["message"], found["message"]


def test_clean_run_passes_early_with_its_margin(default_run):
    found = gate(default_run[1], "input_independent")
    assert found["status"] == "passed" and found["value"] < 0.9 and found["margin"] > 0.2
    assert "after 10 steps" in found["message"]


def test_unit_a_failure_on_too_few_held_out_examples_names_them_first():
    from types import SimpleNamespace

    from saneloop.checks.input_independent import InputIndependentSettings, fail
    from saneloop.checks.measure import curves
    from saneloop.checks.measure.paired import MIN_HELD_OUT, Lead

    weight = torch.nn.Parameter(torch.zeros(1))
    pair = SimpleNamespace(steps=320, opt_real=torch.optim.SGD([weight], lr=0.1), losses=[1.8, 0.07])
    verdict = fail(Lead(2.30, math.inf, 2.305, 1), pair, InputIndependentSettings(), curves.FLAT, None)
    causes = verdict.message.split("Likely causes: ")[1]
    assert causes.startswith(
        f"too few held-out examples (1 held-out example: the comparison needs at least {MIN_HELD_OUT})"
    )


def _scores(n, real, zeroed, unpaired, seed=0):
    """Per-example held-out losses of n examples around the given means (noise sd 1, paired)."""
    from saneloop.checks.measure.copy_pair import PairScores

    noise = torch.randn(n, generator=torch.Generator().manual_seed(seed)).abs()
    own = 0.06 * torch.randn(n, generator=torch.Generator().manual_seed(seed + 1))  # the real copy's own noise
    return PairScores(real + noise * real + own, zeroed + noise * zeroed, unpaired + noise * unpaired)


def _failed_verdict():
    from saneloop.checks.base.verdict import failed

    return failed("input_independent", 0.6, "lead", "after 320 steps ... no more than from their absence", "tip")


@pytest.mark.parametrize("n", [40, 400])
def test_unit_a_weak_lead_on_a_small_held_out_set_is_inconclusive_and_on_a_large_one_a_halt(n):
    """zoo reg_wine_hue_raw: 40 rows, the real copy's best lead +37% at 1.8 standard errors, its outputs
    matching their own targets by 4.8: no power to decide, a note. The same means on 400 rows decide."""
    from saneloop.checks.measure import power
    from saneloop.checks.measure.paired import HeldOut

    now = _scores(n, real=0.022, zeroed=0.035, unpaired=0.045)
    best = power.best_point(None, now, 80)
    verdict = power.judged(_failed_verdict(), best, HeldOut([]), Settings())
    assert verdict.passed == (n == 40) and ("inconclusive" in verdict.message) == (n == 40)


def test_unit_no_match_with_its_own_targets_stays_a_halt_on_a_small_set():
    """Shuffled labels: the real copy's outputs score no better against their own targets than others'."""
    from saneloop.checks.measure import power
    from saneloop.checks.measure.paired import HeldOut

    now = _scores(40, real=0.022, zeroed=0.035, unpaired=0.022)
    verdict = power.judged(_failed_verdict(), power.best_point(None, now, 80), HeldOut([]), Settings())
    assert not verdict.passed


def _overfit_scores(n=206, own_shift=0.3, seed=0):
    """A best point (weak lead ~1.7 standard errors, outputs matching their own targets by `own_shift`) and a
    later point where the real copy's held-out loss rose past it (hf_bert_speakers)."""
    from saneloop.checks.measure.copy_pair import PairScores

    g = torch.Generator().manual_seed(seed)
    zeroed = 1.1 + 0.3 * torch.randn(n, generator=g)
    real = zeroed - 0.06 + 0.35 * torch.randn(n, generator=g)
    best = PairScores(real, zeroed, real + own_shift + 0.3 * torch.randn(n, generator=g))
    later = real + 0.3 + 0.2 * torch.randn(n, generator=g)
    return best, PairScores(later, zeroed, later + own_shift + 0.3 * torch.randn(n, generator=g))


@pytest.mark.parametrize("own_shift", [0.3, 0.0])
def test_unit_a_copy_that_overfit_after_leading_is_judged_at_its_best_point(own_shift):
    """hf_bert_speakers: at its best held-out point the real copy led by 1-3 standard errors and its outputs
    matched their own targets by 5-7; then it overfit. Its best point decides; outputs that match others'
    targets as well as their own (shuffled labels) stay a halt."""
    from saneloop.checks.measure import power
    from saneloop.checks.measure.paired import HeldOut

    best, later = _overfit_scores(own_shift=own_shift)
    point = power.best_point(power.best_point(None, best, 80), later, 320)
    verdict = power.judged(_failed_verdict(), point, HeldOut([]), Settings(), later)
    assert verdict.passed == (own_shift > 0), verdict.message
    assert verdict.message.startswith("judged at the real-input copy's best held-out point") == (own_shift > 0)
    assert verdict.value < 1 if own_shift > 0 else verdict.value == 0.6  # the ratio at the point judged


def test_unit_a_weak_lead_that_never_turned_up_stays_a_halt():
    from saneloop.checks.measure import power
    from saneloop.checks.measure.paired import HeldOut

    best, _ = _overfit_scores()
    verdict = power.judged(_failed_verdict(), power.best_point(None, best, 80), HeldOut([]), Settings(), best)
    assert not verdict.passed


def test_unit_out_of_budget_before_the_first_comparison_is_inconclusive():
    from saneloop.checks.measure.budget import Allowance, allowed

    with allowed(Allowance(seconds=0.0, step_s=0.01)):
        verdict = _run(*_regression(), _model())
    assert verdict.passed and verdict.details["inconclusive"] == "budget"
    assert verdict.message.startswith("inconclusive: out of budget: input_independent used ")
    assert "before its first comparison (step 10)" in verdict.message


def test_unit_out_of_budget_says_what_the_last_comparison_showed():
    """Labels unrelated to the inputs, with no step budget to stop at: the time allowance ends it, and the verdict
    says how far the comparison got and what its next comparison would have cost."""
    from saneloop.checks.measure.budget import Allowance, allowed

    with allowed(Allowance(seconds=0.5, step_s=0.01)):
        verdict = _run(*_regression(related=False), _model(), settings=Settings(min_steps=10**6, max_steps=10**6))
    assert verdict.passed and verdict.details["inconclusive"] == "budget" and verdict.details["steps"] >= 10
    assert verdict.message.startswith("inconclusive: out of budget: input_independent used ")
    assert f"at its last comparison, after {verdict.details['steps']} steps" in verdict.message
    assert "plain training steps it was allowed" in verdict.message and "gates.budget_steps" in verdict.message
