import math

import torch

from saneloop.checks import all_classes_present
from saneloop.tasks import CharLM, Classify
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def test_unit_names_missing_class():
    verdict = all_classes_present(Classify(4), torch.tensor([0, 1, 3, 3]))
    assert not verdict.passed and verdict.value == [2]


def test_unit_unseen_symbols_of_a_token_vocabulary_are_a_note_with_the_count():
    """A byte vocabulary (256 ids) over text that uses a few of them: not a bug."""
    text = torch.tensor([[104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100]])
    verdict = all_classes_present(CharLM(vocab_size=256), text)
    assert verdict.passed and verdict.value == 256 - 8 and "never occur" in verdict.message


def test_unit_unseen_tokens_keep_every_prior_bias_loss_and_baseline_finite():
    task = CharLM(vocab_size=256)
    train, test = torch.randint(97, 123, (20, 16)), torch.randint(97, 123, (5, 16))
    test[0, :4] = torch.tensor([0, 255, 7, 33])  # test tokens never seen in training
    bias = torch.zeros(256)
    task.init_bias(bias, train)
    assert torch.isfinite(bias).all()
    assert math.isfinite(task.expected_init_loss(train)[0])
    assert all(math.isfinite(v) for v in task.baselines(train, test).values())
    logits = bias.expand(5, 16, 256)  # a model that predicts the prior
    assert math.isfinite(float(task.loss(logits, test))) and math.isfinite(task.metrics(logits, test)["loss"])


def test_missing_class_halts_at_setup(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "data._target_=bench.plants.planted_digits",
        "+data.drop_class=7",
        *FAST,
        stop_after("classes_present"),
    )
    assert assert_halted_at(code, report, "setup", "classes_present")["value"] == [7]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "classes_present")["status"] == "passed"


def test_unit_a_class_whose_labels_are_all_the_ignore_index_is_named_as_ignored():
    """A label map that sends class 2 to -100 (a dict .get(name, -100)): the loss skips those items silently."""
    verdict = all_classes_present(Classify(4), torch.tensor([0, 1, -100, -100, -100, 3]))
    assert not verdict.passed and verdict.value == [2]
    assert "3 training targets (50.0%) equal the ignore index -100" in verdict.message
    assert verdict.details["ignored"] == 3


def test_unit_ignored_labels_are_counted_when_every_class_occurs():
    verdict = all_classes_present(Classify(3), torch.tensor([0, 1, 2, -100]))
    assert verdict.passed and "1 training target (25.0%) equals the ignore index -100" in verdict.message
