"""Every split checked against training before training (issue 22.4): a held-out class training never has
(classes_present names it and counts it in each held-out split) and held-out regression targets outside the
training range (target_range), both in setup."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from saneloop.checks import all_classes_present, targets_in_range
from saneloop.datasets import diabetes, digits
from saneloop.tasks import Classify
from tests.conftest import FAST, assert_halted_at, run_pipeline, stop_after


def sorted_digits(test_size: int = 449, split_seed: int = 0):
    """Planted: the digits sorted by label and split without shuffling (the last 449 items are the test set)."""
    train, test = digits(test_size=test_size, split_seed=split_seed)
    x, y = torch.cat([train.tensors[0], test.tensors[0]]), torch.cat([train.tensors[1], test.tensors[1]])
    order = torch.argsort(y, stable=True)
    x, y = x[order], y[order]
    return TensorDataset(x[:-test_size], y[:-test_size]), TensorDataset(x[-test_size:], y[-test_size:])


def raw_test_targets(**kwargs):
    """Planted: diabetes with standardised training targets and the test targets left in raw units (mean 152)."""
    *kept, test = diabetes(**{**kwargs, "target_shift": 152.0, "target_scale": 77.0})
    x, y = test.tensors
    return (*kept, TensorDataset(x, y * 77.0 + 152.0))


def split_targets(sets) -> dict[str, torch.Tensor]:
    names = ("train", "test") if len(sets) == 2 else ("train", "val", "test")
    return {name: s.tensors[1] for name, s in zip(names, sets)}


def test_unit_a_sorted_split_names_the_classes_only_the_test_split_holds_and_their_counts():
    targets = split_targets(sorted_digits())
    verdict = all_classes_present(Classify(10), targets["train"], {"test": targets["test"]})
    assert not verdict.passed and verdict.value == [8, 9]
    assert "yet test holds 354 items of them (8: 174, 9: 180)" in verdict.message
    assert "sorted by label and split without shuffling" in verdict.message


def test_sorted_digits_halt_in_setup_naming_the_unseen_classes(tmp_path):
    code, report = run_pipeline(
        tmp_path, f"data._target_={__name__}.sorted_digits", *FAST, stop_after("classes_present")
    )
    found = assert_halted_at(code, report, "setup", "classes_present")
    assert found["value"] == [8, 9] and "test holds 354 items of them" in found["message"]


def test_unit_sorted_regression_targets_halt_and_say_how_far():
    train, test = diabetes()
    y = torch.cat([train.tensors[1], test.tensors[1]]).sort().values
    verdict = targets_in_range({"train": y[:-111], "test": y[-111:]})
    assert not verdict.passed and "test targets" in verdict.message and "above the training maximum" in verdict.message
    assert "shuffle before splitting" in verdict.message


def test_unit_raw_test_targets_beside_standardised_training_ones_halt():
    verdict = targets_in_range(split_targets(raw_test_targets()))
    assert not verdict.passed and verdict.value == 1.0
    assert "111 of 111 test targets (100.0%) lie above the training maximum" in verdict.message


def test_raw_scale_test_targets_halt_in_setup(tmp_path):
    code, report = run_pipeline(
        tmp_path, f"data._target_={__name__}.raw_test_targets", *FAST, stop_after("target_range"), recipe="regress"
    )
    found = assert_halted_at(code, report, "setup", "target_range")
    assert "standard deviations beyond" in found["message"]


def test_unit_the_recipes_and_the_zoos_random_splits_pass():
    for sets in (diabetes(), diabetes(val_size=99), diabetes(target_shift=152.0, target_scale=77.0)):
        verdict = targets_in_range(split_targets(sets))
        assert verdict.status == "passed", verdict.message
    assert targets_in_range(split_targets(digits())).status == "skipped"  # class ids: classes_present's


def test_unit_heavy_tails_and_tiny_test_sets_split_at_random_pass():
    """The rule is distribution-free: a lognormal or t(2) target, 13 to 500 test items, 300 random splits."""
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n = int(rng.choice([50, 100, 400, 2000]))
        y = torch.tensor(rng.lognormal(0, 2, n) if seed % 2 else rng.standard_t(2, n)).float()
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        cut = int(0.75 * n)
        verdict = targets_in_range({"train": y[order[:cut]], "test": y[order[cut:]]})
        assert verdict.passed, (seed, verdict.message)


def test_unit_each_output_of_a_multi_output_target_is_judged():
    gen = torch.Generator().manual_seed(0)
    train, test = torch.randn(300, 3, generator=gen), torch.randn(100, 3, generator=gen)
    assert targets_in_range({"train": train, "test": test}).passed
    test[:, 2] = test[:, 2] * 0.01 + 50.0  # one output in other units
    verdict = targets_in_range({"train": train, "test": test})
    assert not verdict.passed and "of output 2" in verdict.message
