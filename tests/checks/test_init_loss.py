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


def test_unit_a_head_adding_many_times_a_default_heads_share_is_over_scaled_whatever_rtol_allows():
    """Issue 22: a 20x head added 0.40 against 0.0048 for a default head; 0.30 is within rtol (0.35)."""
    prior = torch.full((256,), math.log(10)) + 0.01 * torch.randn(256, generator=torch.Generator().manual_seed(0))
    verdict = judge(_m(prior + 0.30, prior, default=0.0048), math.log(10), "", Settings())
    assert not verdict.passed and "62x what PyTorch's default init" in verdict.message
    assert "gates.init_loss.head_ratio=20.0" in verdict.message
    assert judge(_m(prior + 0.04, prior, default=0.0048), math.log(10), "", Settings()).passed  # 8x: the zoo's most


class _Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv1d(1, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        return self.head(self.body(x.unsqueeze(1)))


class _Gru(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.head = nn.GRU(1, 16, batch_first=True), nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.rnn(x.unsqueeze(-1))[0][:, -1])


def test_default_heads_of_several_architectures_pass_and_a_20x_head_halts():
    from saneloop.tasks import Classify

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 12, generator=gen), torch.randint(0, 5, (256,), generator=gen)
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, 256, 64)]
    makers = {
        "mlp": lambda: nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 5)),
        "bn": lambda: nn.Sequential(nn.Linear(12, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 5)),
        "conv": _Conv,
        "gru": _Gru,
    }
    for name, make in makers.items():
        for scale in (1.0, 20.0):
            torch.manual_seed(0)
            model = make()
            head = model[-1] if isinstance(model, nn.Sequential) else model.head
            with torch.no_grad():
                head.weight.mul_(scale)
            Classify(5).init_bias(head.bias, y)
            verdict = loss_at_init(model, Classify(5), batches, y)
            assert verdict.passed == (scale == 1.0), (name, scale, verdict.message)


def test_a_head_initialised_20x_too_large_halts_at_init_loss(tmp_path):
    code, report = run_pipeline(tmp_path, "+model.head_scale=20", *FAST, stop_after("init_loss"))
    found = assert_halted_at(code, report, "sanity", "init_loss")
    assert "what PyTorch's default init of the same head adds, more than 20x" in found["message"]
