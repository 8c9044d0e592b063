"""Regress with several outputs per item (targets [k]): the task's numbers, per output, and its refusals."""

import math

import pytest
import torch
from torch.utils.data import TensorDataset

from saneloop.checks import targets_valid
from saneloop.tasks import Regress

SCALES = torch.tensor([0.5, 30.0, 2000.0])
MEANS = torch.tensor([1.0, 150.0, 10_000.0])


def _targets(n: int = 64, seed: int = 0) -> torch.Tensor:
    return MEANS + SCALES * torch.randn(n, 3, generator=torch.Generator().manual_seed(seed))


def test_unit_bias_is_each_outputs_mean_and_init_loss_the_mean_of_their_variances():
    task, y = Regress(outputs=3), _targets()
    bias = torch.zeros(3)
    assert "mean of each output's training targets" in task.init_bias(bias, y)
    assert torch.allclose(bias.double(), y.double().mean(0))
    expected, derivation = task.expected_init_loss(y)
    assert expected == pytest.approx(float(y.double().var(0, correction=0).mean()))
    # what predicting each output's mean scores under the task's own loss
    assert float(task.loss(bias.expand(len(y), 3), y)) == pytest.approx(expected, rel=1e-5)
    assert "mean over the 3 outputs" in derivation and "standardise the targets per output" in derivation
    assert task.prior_gap(bias.expand(5, 3), y)[0] == pytest.approx(0.0, abs=1e-5)
    off = bias + torch.tensor([0.0, 0.0, 2 * float(y[:, 2].std(correction=0))])
    assert task.prior_gap(off.expand(5, 3), y)[0] == pytest.approx(2.0, rel=1e-4)  # the worst output, in its sds


def test_unit_r2_per_output_and_their_mean_as_the_headline():
    task, y = Regress(outputs=3, output_names=["a", "b", "c"]), _targets(200)
    pred = y.clone()
    pred[:, 0] = y[:, 0].mean()  # output a: the mean predictor, R^2 0
    pred[:, 2] += 0.5 * float(y[:, 2].std(correction=0))  # output c: off by half an sd, R^2 0.75
    m = task.metrics(pred, y)
    assert m["r2_a"] == pytest.approx(0.0, abs=1e-9) and m["r2_b"] == 1.0 and m["r2_c"] == pytest.approx(0.75)
    assert m["r2"] == pytest.approx(1.75 / 3) and 0 < m["r2_se"] < 0.1
    assert m["rmse_b"] == 0.0 and m["rmse_c"] == pytest.approx(0.5 * float(y[:, 2].std(correction=0)), rel=1e-5)
    assert task.headline() == "r2" and "rmse" not in m  # no error summed over units of 1 and 10,000
    base = task.baselines(y[:100], y[100:])
    assert {"mean_r2", "mean_r2_a", "mean_rmse_c"} <= set(base) and base["mean_r2"] < 0.05


def test_unit_errors_per_output_in_original_units():
    task = Regress(outputs=2, target_shift=[1.0, 150.0], target_scale=[0.5, 30.0])
    true = torch.tensor([[-1.0, 0.0], [0.0, 1.0], [1.0, 2.0], [2.0, -1.0]])
    m = task.metrics(true + 0.5, true)  # half a unit off everywhere: 0.25 and 15 original units
    assert m["rmse_0"] == pytest.approx(0.25) and m["rmse_1"] == pytest.approx(15.0) and m["loss"] == 0.25
    assert task.view_batch(torch.zeros(1, 2), true[:1]).rows == [[0.0, 0.0, 0.5, 150.0]]
    assert task.view_batch(torch.zeros(1, 2), true[:1]).columns == ["x0", "x1", "target_0", "target_1"]
    with pytest.raises(ValueError, match=r"task.target_scale has 3 values .* task.outputs=2"):
        Regress(outputs=2, target_scale=[1.0, 2.0, 3.0])


def test_unit_loss_per_example_and_per_output_agree():
    task, y = Regress(outputs=3), _targets(8)
    out = y + torch.randn(8, 3)
    each = task.per_output_loss(out, y)
    assert each.shape == (8, 3) and float(task.per_example_loss(out, y).mean()) == pytest.approx(
        float(task.loss(out, y))
    )
    assert torch.allclose(task.per_example_loss(out, y), each.mean(1))


def test_unit_every_output_must_be_right_for_an_example_to_be():
    task, y = Regress(outputs=3), _targets(8)
    out = y.clone()
    out[3, 0] += float(y[:, 0].std(correction=0))  # one output of one example off by an sd
    assert task.predicted_right(out, y).tolist() == [True] * 3 + [False] + [True] * 4


def test_unit_a_model_of_the_wrong_width_is_refused_naming_both():
    task = Regress(outputs=3)
    assert task.output_problem(torch.zeros(4, 3), 4) is None
    problem = task.output_problem(torch.zeros(4, 2), 4)
    assert "2 values per sample" in problem and "task.outputs=3" in problem and "model.out_features=3" in problem
    assert "task.outputs=3" in task.output_problem(torch.zeros(4), 4)
    assert "task.outputs=1" in Regress().output_problem(torch.zeros(4, 3), 4)


def test_targets_of_k_values_pass_and_a_mismatch_with_task_outputs_names_the_key():
    y = _targets(10)
    assert targets_valid(Regress(outputs=3), {"train": y, "test": y}).passed
    verdict = targets_valid(Regress(), {"train": y})
    assert not verdict.passed and "3 values per item" in verdict.message and "task.outputs=1" in verdict.message
    assert "set task.outputs" in verdict.message.lower() and "num_classes" not in verdict.message
    assert "one value per item" in targets_valid(Regress(outputs=3), {"train": y[:, 0]}).message
    flat = y.clone()
    flat[:, 1] = 150.0
    assert "output 1: every target equals 150.0" in targets_valid(Regress(outputs=3), {"train": flat}).message


def test_one_output_keeps_its_names_and_numbers():
    task, y = Regress(), torch.tensor([1.0, 2.0, 3.0, 6.0])
    assert set(task.metrics(y + 1, y)) == {"loss", "rmse", "mae", "r2", "r2_se", "count"}
    assert task.expected_init_loss(y)[1] == "variance of the training targets"
    assert math.isclose(task.metrics(y + 1, y)["rmse"], 1.0)


def test_target_leak_judges_each_output_and_names_the_one_a_feature_copies():
    from saneloop.checks.target_leak import TargetLeakSettings, leaking_features
    from tests.checks.test_split_overlap import sample

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(400, 6, generator=gen), _targets(400)
    y[:, :2] += torch.stack([x[:, 0] * 0.3, x[:, 1] * 20], 1)  # predictive, far from a copy

    def split(x, y):
        return sample(TensorDataset(x[:300], y[:300]), "train"), sample(TensorDataset(x[300:], y[300:]), "test")

    clean = leaking_features(*split(x, y), TargetLeakSettings())
    assert clean.passed and clean.status == "passed", clean.message
    x[:, 4] = (y[:, 2] - 10_000) / 2000  # output 2, in other units, kept among the inputs
    leak = leaking_features(*split(x, y), TargetLeakSettings())
    assert not leak.passed and leak.details["leaks"] == [4] and "output 2" in leak.message


def test_init_loss_of_a_bias_free_head_names_no_cross_entropy_for_three_outputs():
    from torch import nn

    from saneloop.checks import loss_at_init

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 10, generator=gen), torch.randn(64, 3, generator=gen)
    model = nn.Linear(10, 3, bias=False)
    with torch.no_grad():
        model.weight.mul_(0.01)
    verdict = loss_at_init(model, Regress(outputs=3), [(x, y)], bias_set=False)
    assert verdict.passed and "zero output" in verdict.message and "log 3" not in verdict.message, verdict.message
