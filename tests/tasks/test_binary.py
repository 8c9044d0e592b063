"""Binary: the task's numbers, the default recipe end to end, and the bugs its gates exist to catch."""

import math

import pytest
import torch

from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from saneloop.tasks import Binary
from saneloop.tasks.binary import _auroc, _average_precision
from tests.conftest import assert_every_gate_passed, assert_halted_at, gate, not_applicable, run_pipeline, stop_after

QUIET = ["output.progress=false", "output.save_weights=false"]
FAST = ["train.epochs=3", *QUIET]
# The gates before overfit that also see a double sigmoid (its mean prediction is far from the
# prior; on zeroed inputs it learns as little as on real ones), waived to test overfit on its own.
NO_SANITY = [
    "gates.init_bias.waive='planted, testing overfit'",
    "gates.init_loss.waive='planted, testing overfit'",
    "gates.input_independent.waive='planted, testing overfit'",
]


def test_unit_bias_gives_the_positive_rate_and_loss_its_entropy():
    task, y = Binary(), torch.tensor([1.0] + [0.0] * 9)
    expected, _ = task.expected_init_loss(y)
    assert expected == pytest.approx(-(0.1 * math.log(0.1) + 0.9 * math.log(0.9)))
    bias = torch.zeros(1)
    task.init_bias(bias, y)
    assert float(torch.sigmoid(bias)) == pytest.approx(0.1)
    assert float(task.loss(bias.expand(10), y)) == pytest.approx(expected)
    assert task.prior_gap(torch.zeros(10, 1), y)[0] == pytest.approx(0.4)


def test_unit_ranking_metrics_match_their_definitions_with_ties():
    scores = torch.tensor([0.9, 0.8, 0.8, 0.3, 0.1], dtype=torch.double)
    positive = torch.tensor([True, False, True, False, False])
    assert _auroc(scores, positive) == pytest.approx((3 + 2.5) / 6)  # pairs won, ties half
    assert _average_precision(scores, positive) == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))


def test_unit_metrics_under_imbalance():
    logits = torch.tensor([3.0, -3.0, -3.0, -3.0, 3.0, -3.0, -3.0, -3.0, -3.0, -3.0])
    true = torch.tensor([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    m = Binary().metrics(logits, true)
    assert m["accuracy"] == pytest.approx(0.8) and m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5) and m["f1"] == pytest.approx(0.5)
    assert Binary().baselines(true, true)["majority_accuracy"] == pytest.approx(0.8)


def test_unit_output_and_target_contract():
    task = Binary()
    assert task.output_problem(torch.zeros(4, 1), 4) is None and task.output_problem(torch.zeros(4), 4) is None
    assert "+recipe=classify" in task.output_problem(torch.zeros(4, 2), 4)
    problem = task.target_problems(torch.tensor([0, 1, 2, 1]))[0]
    assert problem.indices == [2] and "not 0 or 1" in problem.why
    assert task.target_problems(torch.tensor([0, 1, 1])) == [] and task.missing_targets(torch.zeros(3)) == [1]


def test_default_recipe_passes_every_gate_with_auroc_above_098(tmp_path):
    code, report = run_pipeline(tmp_path, *QUIET, recipe="binary")
    assert code == EXIT_PASSED, report
    assert_every_gate_passed(report, not_applicable("binary"))
    m = report["metrics"]
    assert m["auroc"] >= 0.98 and m["f1"] > 0.9 and m["accuracy"] > report["baselines"]["majority_accuracy"]
    init = gate(report, "init_loss")  # binary entropy of ~0.1, not log 2
    assert abs(init["value"] - 0.3229) < 0.05 and "binary entropy" in init["message"]


def test_double_sigmoid_halts_at_sanity(tmp_path):
    """sigmoid(logit) fed as a logit: the mean predicted probability sits near 0.5, not at the 0.1 prior."""
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.DoubleSigmoidMLP", *FAST, stop_after("init_bias"), recipe="binary"
    )
    assert assert_halted_at(code, report, "sanity", "init_bias")["value"] > 0.3


def test_double_sigmoid_cannot_memorise_a_batch(tmp_path):
    """With the sanity gates waived, the overfit gate catches it on its own: the loss floors above 0.3."""
    code, report = run_pipeline(
        tmp_path,
        "model._target_=bench.plants.DoubleSigmoidMLP",
        *NO_SANITY,
        *FAST,
        stop_after("overfit"),
        recipe="binary",
    )
    assert assert_halted_at(code, report, "overfit", "overfit")["value"] > 0.3


def test_head_without_bias_on_1_to_9_data_halts_at_init_bias(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.NoBiasMLP", *FAST, stop_after("init_bias"), recipe="binary"
    )
    assert "no final bias" in assert_halted_at(code, report, "sanity", "init_bias")["message"]


def test_two_logit_model_is_refused_before_training(tmp_path):
    code, report = run_pipeline(tmp_path, "model.out_features=2", *FAST, recipe="binary")
    assert code == EXIT_INPUT_ERROR and "binary expects one logit per sample" in report["error"]


def test_unit_views_show_images_and_probabilities():
    task = Binary()
    view = task.view_batch(torch.zeros(2, 1, 8, 8), torch.tensor([1.0, 0.0]))
    assert view.captions == ["y=1", "y=0"]
    predictions = task.view_predictions(torch.tensor([[0.0], [math.log(3)]]), torch.tensor([0.0, 1.0]))
    assert predictions.kind == "values" and predictions.predictions == pytest.approx([0.5, 0.75])


def test_init_loss_is_a_mean_per_example_not_per_batch(tmp_path):
    """1348 training examples in batches of 1347: the one left over weighs 1/1348, not half the mean."""
    code, report = run_pipeline(
        tmp_path,
        "loader.train.batch_size=1347",
        *QUIET,
        stop_after("init_loss"),
        recipe="binary",
    )
    found = gate(report, "init_loss")
    assert found["status"] == "passed" and abs(found["value"] - 0.333) < 0.01
