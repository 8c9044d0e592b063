import torch

from bench import plants
from saneloop.checks import items_repeat
from saneloop.config import Builders
from saneloop.data import Augmented, RandomShift
from saneloop.datasets import digits
from tests.conftest import FAST, assert_halted_at, compose_cfg, gate, run_pipeline, stop_after


def test_unit_random_transform_is_found_and_named():
    train, test = plants.noisy_digits()
    verdict = items_repeat({"train": train, "test": test}, items=4)
    assert not verdict.passed and verdict.value == 4 and "train items [0," in verdict.message
    assert items_repeat({"train": digits()[0]}).passed


def test_random_transform_left_on_halts_at_setup(tmp_path):
    code, report = run_pipeline(
        tmp_path, "data._target_=bench.plants.noisy_digits", *FAST, stop_after("augmentation_off")
    )
    found = assert_halted_at(code, report, "setup", "augmentation_off")
    assert "random transform" in found["message"] and "augment=" in found["message"]


def test_augment_group_is_off_by_default_and_applies_to_training_only():
    assert compose_cfg().augment is None
    cfg = compose_cfg("augment=shift")
    train = digits()[0]
    assert Builders(compose_cfg()).augmented(train) is train
    shifted = Builders(cfg).augmented(train)
    assert isinstance(shifted, Augmented) and isinstance(shifted.transform, RandomShift)
    torch.manual_seed(0)
    assert not all(torch.equal(shifted[3][0], shifted[3][0]) for _ in range(5))
    assert shifted[3][1] == train[3][1]


def test_augment_on_still_passes_the_gate_before_training(tmp_path):
    """The gate judges the dataset itself; the train stage alone applies the chosen augmentation."""
    _, report = run_pipeline(tmp_path, "augment=shift", *FAST, "stop_after=train")
    assert gate(report, "augmentation_off")["status"] == "passed"
    assert "train" in [s["name"] for s in report["stages"]]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "augmentation_off")["status"] == "passed"
