"""The validation split: carved from the training set (seeded apart from the run, stratified, disjoint, its
size from validation.fraction), or the data's own; every decision reads it, and the test set is read by
setup's data checks and then once, by evaluate (issue 23)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from saneloop.data.summary import DatasetSummary
from saneloop.data.validation import MIN_ITEMS, carve, class_labels, part, part_summary
from saneloop.datasets import digits
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED, InputError
from tests.conftest import run_pipeline


def test_carving_is_seeded_stratified_disjoint_and_sized():
    labels = torch.arange(1000) % 10  # 100 of each class...
    labels[:300] = 0  # ...but class 0 is 37% of the set
    train, val = carve(labels, 0.1, seed=0)
    assert len(val) == 100 and len(train) == 900
    assert not set(train.tolist()) & set(val.tolist()) and sorted(train.tolist() + val.tolist()) == list(range(1000))
    shares = torch.bincount(labels[val], minlength=10).tolist()
    expected = (torch.bincount(labels) * 0.1).tolist()
    assert all(abs(got - want) <= 1 for got, want in zip(shares, expected)), (shares, expected)
    again, other = carve(labels, 0.1, seed=0)[1], carve(labels, 0.1, seed=1)[1]
    assert torch.equal(again, val) and not torch.equal(other, val)  # validation.seed, not the run's seed


def test_a_small_training_set_gives_validation_min_items_up_to_thirty_percent():
    labels = torch.arange(110) % 2  # 10% would be 11 items: too few to tell a model from one fed zeros
    assert [len(carve(labels, 0.1, seed=0, min_items=m)[1]) for m in (0, 20, 100)] == [11, 20, 33]
    assert len(carve(torch.arange(1348) % 10, 0.1, seed=0, min_items=100)[1]) == 135  # 10% is more: 10%


def test_regression_targets_are_carved_at_random():
    targets = torch.randn(200)
    assert class_labels(targets) is None and class_labels(torch.tensor([0.0, 1.0, 1.0])) is not None
    train, val = carve(targets, 0.25, seed=3)
    assert len(val) == 50 and len(train) == 150


def test_a_validation_split_too_small_is_refused_naming_the_key_and_the_fix():
    with pytest.raises(InputError) as refused:
        carve(torch.arange(40) % 2, 0.1, seed=0)
    message = str(refused.value)
    assert "validation.fraction=0.1 of the 40 training items carves 4 validation items" in message
    assert f"at least {MIN_ITEMS}" in message and "raise validation.fraction (to 0.19)" in message
    assert "data._target_ returning (train, val, test)" in message


def test_parts_keep_the_fast_path_and_their_summaries_follow_the_items():
    x, y = torch.randn(10, 3), torch.arange(10)
    x[7, 0] = float("nan")
    summary = DatasetSummary(10, y, [7], {(3,)}, None, "tensors")
    picks = torch.tensor([2, 7, 9])
    held = part(TensorDataset(x, y), picks)
    assert isinstance(held, TensorDataset) and torch.equal(held.tensors[1], y[picks])
    cut = part_summary(summary, picks)
    assert cut.length == 3 and cut.nonfinite == [1] and torch.equal(cut.targets, y[picks])


# --- end to end: who reads the test set ----------------------------------------------------------------

READS: list[str] = []  # the saneloop stage module behind each read of a watched test item


class Watched(Dataset):
    """Digits read item by item (no in-memory fast path), each read of the test split recorded with the
    innermost saneloop stage module on the stack."""

    def __init__(self, data: TensorDataset, watched: bool) -> None:
        self.data, self.watched = data, watched

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        if self.watched:
            READS.append(_stage_reading())
        return self.data[index]


def _stage_reading() -> str:
    frame = sys._getframe(1)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.parent.name == "stages" and path.parent.parent.name == "saneloop":
            return path.stem
        frame = frame.f_back
    return "outside the stages"


def watched_digits(own_val: bool = True, train_size: int = 0, test_size: int = 449, split_seed: int = 0):
    """The default digits, with (own_val) a validation set of the data's own: the last 200 training items."""
    train, test = digits(test_size, split_seed)
    if train_size:
        train = TensorDataset(*(t[:train_size] for t in train.tensors))
    if not own_val:
        return Watched(train, False), Watched(test, True)
    val = TensorDataset(*(t[-200:] for t in train.tensors))
    train = TensorDataset(*(t[:-200] for t in train.tensors))
    return Watched(train, False), Watched(val, False), Watched(test, True)


def test_no_gate_nor_the_loss_curve_reads_the_test_set_before_evaluate_which_reads_it_once(tmp_path):
    READS.clear()
    code, report = run_pipeline(
        tmp_path,
        f"data._target_={__name__}.watched_digits",
        "train.max_steps=30",
        "output.progress=false",
        "output.save_weights=false",
    )
    assert code == EXIT_PASSED, report
    readers = Counter(READS)
    assert set(readers) <= {"setup", "setup_validation", "setup_splits", "evaluate"}, readers  # data checks, then
    assert readers["evaluate"] == 449  # each test item once: the test metric is measured once per run
    assert report["val_metrics"]["count"] == 200 and report["metrics"]["count"] == 449
    assert "validation: the data's own validation set, 200 items" in report["notes"]


def test_a_training_set_too_small_to_carve_is_refused_before_training(tmp_path):
    data = [f"data._target_={__name__}.watched_digits", "+data.own_val=false", "+data.train_size=40"]
    code, report = run_pipeline(tmp_path / "a", *data, "validation.min_items=0")
    assert code == EXIT_INPUT_ERROR and [s["name"] for s in report["stages"]] == ["setup"]  # after the data gates
    assert "validation.fraction=0.1 of the 40 training items carves 4 validation items" in report["error"]
    code, report = run_pipeline(tmp_path / "b", *data)  # min_items carves 30% (12): too few to compare on
    assert code == EXIT_INPUT_ERROR and [s["name"] for s in report["stages"]] == ["setup"]
    assert report["error"].startswith("12 validation examples: the held-out comparisons") and (
        "raise validation.fraction" in report["error"]
    )


def test_report_carries_both_splits_each_named(default_run):
    """The default classify run: validation (carved, stratified) and test, in report.json and report.md."""
    code, report, run_dir = default_run
    assert report["val_metrics"]["count"] == 135 and report["metrics"]["count"] == 449
    assert report["headline"] == "accuracy" and report["direction"] == "maximize"
    assert set(report["val_baselines"]) == set(report["baselines"]) == {"chance", "majority"}
    markdown = (run_dir / "report.md").read_text()
    assert "| metric | validation | test |" in markdown and "| count | 135 | 449 |" in markdown
    assert (
        "validation accuracy"
        in next(g for s in report["stages"] for g in s["gates"] if g["name"] == "beats_baselines")["message"]
    )
