import math

import torch
from torch import nn

from saneloop.checks import loss_at_init
from saneloop.checks.init_loss import InitLossMeasurement, Losses, judge
from saneloop.checks.init_loss import InitLossSettings as Settings
from saneloop.tasks import Regress
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def _m(with_weights, bias_only, default=0.01):
    as_losses = lambda v: Losses(float(v.mean()), v)
    return InitLossMeasurement(as_losses(with_weights), as_losses(bias_only), default, "head")


def test_unit_the_prior_must_score_what_the_task_derives():
    prior = torch.full((256,), math.log(10)) + 0.01 * torch.randn(256)
    assert judge(_m(prior + 0.05, prior), math.log(10), "", Settings()).passed
    summed = _m(prior * 64, prior * 64)  # reduction='sum' over a batch of 64
    verdict = judge(summed, math.log(10), "", Settings())
    assert not verdict.passed and "reduction='sum'" in verdict.message


def test_unit_random_head_weights_may_add_what_a_default_head_adds_not_a_hundred_times_it():
    prior = torch.full((256,), 1.0)
    assert judge(_m(prior + 0.4, prior, default=0.4), 1.0, "", Settings()).passed  # a default-init linear head
    verdict = judge(_m(prior + 40.0, prior, default=0.4), 1.0, "", Settings())  # weights x10: variance x100
    assert not verdict.passed and "initialised far too large" in verdict.message


def test_unit_same_verdict_in_standardised_raw_and_x1000_units():
    """A linear regressor at PyTorch's default init, on the same targets in three units: its random weights
    add ~40% of a standardised target's variance and nothing of a raw one; both are fine."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 10, generator=gen), torch.randn(256, generator=gen)
    verdicts = []
    for scale in (1.0, 77.0, 77000.0):
        torch.manual_seed(0)
        model = nn.Linear(10, 1)
        Regress().init_bias(model.bias, y * scale)
        batches = [(x[i : i + 64], y[i : i + 64] * scale) for i in range(0, 256, 64)]
        verdicts.append(loss_at_init(model, Regress(), batches, y * scale))
    assert [v.passed for v in verdicts] == [True, True, True], [v.message for v in verdicts]


def test_summed_loss_halts_at_sanity(tmp_path):
    code, report = run_pipeline(
        tmp_path, "task._target_=bench.plants.SummedLossClassify", *FAST, stop_after("init_loss")
    )
    found = assert_halted_at(code, report, "sanity", "init_loss")
    assert found["value"] > 50 and "reduction='sum'" in found["message"]


def test_clean_run_matches_log_c(default_run):
    found = gate(default_run[1], "init_loss")
    assert found["status"] == "passed" and found["margin"] > 0.2
    assert abs(found["value"] - math.log(10)) / math.log(10) < 0.15
