import re

import pytest
import torch
from torch.utils.data import TensorDataset

from saneloop.checks.label_noise import label_issues, likely_mislabelled
from saneloop.datasets import digits
from tests.conftest import FAST, gate, run_pipeline, stop_after


def test_confident_learning_flags_the_examples_whose_label_the_model_disbelieves():
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.85, 0.15], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 0, 1, 1])  # 2 (looks 1) and 3 (looks 0) are the suspects
    assert label_issues(probs, labels).tolist() == [3, 2]  # ranked by the probability of the given label
    verdict = likely_mislabelled(probs, labels, torch.arange(5) + 100)
    assert verdict.passed and verdict.value == 2 and verdict.details["worst"][0]["index"] == 103


def test_an_example_the_model_believes_is_never_listed_as_mislabelled():
    """Issue 22.8: a row read "labelled 1, looks 1". Class 0's examples get a low p(0) on average (a weak
    model), so its threshold is low: example 4 (labelled 1, p = 0.35 / 0.45 / 0.20) clears class 0's
    threshold and not its own, yet the model's best guess is its label. cleanlab drops such an example
    (given label == prediction); example 5 (labelled 1, looks 2) stays."""
    probs = torch.tensor(
        [[0.30, 0.60, 0.10], [0.30, 0.10, 0.60], [0.10, 0.85, 0.05], [0.10, 0.05, 0.85], [0.35, 0.45, 0.20]]
        + [[0.05, 0.10, 0.85], [0.10, 0.05, 0.85]]
    )
    labels = torch.tensor([0, 0, 1, 2, 1, 1, 2])
    verdict = likely_mislabelled(probs, labels, torch.arange(7))
    rows = [(w["index"], w["label"], w["predicted"]) for w in verdict.details["worst"]]
    assert all(label != predicted for _, label, predicted in rows), rows
    assert (5, 1, 2) in rows and 4 not in [i for i, _, _ in rows]
    assert "labelled 1, looks 1" not in verdict.message


def test_agrees_with_cleanlab_where_it_is_installed():
    filter_ = pytest.importorskip("cleanlab.filter")
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 4, generator=gen) * 2
    probs, labels = logits.softmax(1), torch.randint(0, 4, (300,), generator=gen)
    theirs = filter_.find_label_issues(
        labels.numpy(), probs.numpy(), filter_by="confident_learning", return_indices_ranked_by="self_confidence"
    )
    assert set(label_issues(probs, labels).tolist()) == set(theirs.tolist())


def flipped_digits(count: int = 30, test_size: int = 449, split_seed: int = 0):
    """Digits with `count` training labels moved to the next class (planted label noise)."""
    train, test = digits(test_size=test_size, split_seed=split_seed)
    x, y = train.tensors
    y = y.clone()
    y[:count] = (y[:count] + 1) % 10
    return TensorDataset(x, y), test


def test_planted_label_noise_is_ranked_first_and_drawn(tmp_path):
    code, report = run_pipeline(
        tmp_path, *FAST, "data._target_=tests.checks.test_label_noise.flipped_digits", stop_after("label_noise")
    )
    found = gate(report, "label_noise")
    worst = [int(i) for i in re.findall(r"(\d+) \(labelled", found["message"])]
    assert found["status"] == "passed" and code == 0  # a report, never a halt
    assert len(worst) == 10 and sum(i < 30 for i in worst) >= 9, found["message"]
    # 24 flagged: the 4 more flagged before issue 22.8b were rows the model believes (argmax == label), none planted
    assert found["value"] >= 22 and (tmp_path / "figures" / "label_noise.png").is_file()
