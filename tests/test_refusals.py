"""Issue 23, item 4: every bad value is refused before training (exit 2), naming the key or the item, the value
and the fix; held-out sets too small for the gates' statistics are named as the cause."""

from __future__ import annotations

import pytest
import torch

import saneloop
from saneloop.config.settings import read_settings
from saneloop.errors import EXIT_INPUT_ERROR, InputError
from saneloop.stages.setup_contract import HELD_OUT_GATES, MIN_HELD_OUT, gates_to_run, refuse_too_few_held_out
from tests.conftest import FAST, compose_cfg, run_pipeline


def compose_settings(*overrides: str):
    return read_settings(compose_cfg(*overrides))


STEP_LR = ("+scheduler._target_=torch.optim.lr_scheduler.StepLR", "+scheduler._partial_=true")


def _refused_before_any_gate(run_dir, *overrides: str) -> str:
    code, report = run_pipeline(run_dir, *FAST, "stop_after=setup", *overrides)
    assert code == EXIT_INPUT_ERROR and report["status"] == "error", report
    assert not [g for s in report["stages"] for g in s["gates"]], "a gate ran before the refusal"
    assert "Traceback" not in report["error"]
    return report["error"]


@pytest.mark.parametrize(
    "overrides, said",
    [
        (("optim.lr=abc",), ["optim.lr=abc", "a number", "torch.optim.AdamW"]),
        (("optim.lr=-1",), ["optim.lr=-1", "Invalid learning rate: -1", "torch.optim.AdamW"]),
        (("optim=sgd", "optim.momentum=-0.5"), ["optim.momentum=-0.5", "Invalid momentum value: -0.5"]),
        (("+optim.lrr=0.1",), ["optim.lrr", "takes no argument 'lrr'", "lr"]),
        ((*STEP_LR, "+scheduler.step_size=abc"), ["scheduler.step_size=abc", "a number", "StepLR"]),
        ((*STEP_LR, "+scheduler.step_size=10", "+scheduler.gamma=0.5", "+scheduler.bogus=1"), ["scheduler.bogus"]),
    ],
    ids=["lr not a number", "lr negative", "momentum negative", "misspelled key", "scheduler str", "scheduler key"],
)
def test_bad_optimizer_and_scheduler_values_are_refused_naming_the_key(tmp_path, overrides, said):
    error = _refused_before_any_gate(tmp_path, *overrides)
    assert all(part in error for part in said), error


class _Items(torch.utils.data.Dataset):
    """Items made by `make(i)`: what a user's own __getitem__ returns."""

    def __init__(self, count: int, make) -> None:
        self.count, self.make = count, make

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        return self.make(index)


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda i: (f"text {i}", i % 10), "train item 0: input 0 is a str ('text 0'), not a tensor"),
        (lambda i: (torch.zeros(1, 8, 8), ["cat", "dog"][i % 2]), "train item 0: the target is a str ('cat')"),
        (
            lambda i: {"x": torch.zeros(64), "text": "a caption", "labels": i % 10},
            "train item 0: input 'text' is a str ('a caption')",
        ),
    ],
    ids=["str input", "str target", "str among dict inputs"],
)
def test_items_that_are_not_tensors_are_refused_naming_the_item_and_the_field(tmp_path, make, said):
    data = (_Items(200, make), _Items(50, make))
    result = saneloop.run("classify", [*FAST, "stop_after=setup"], data=data, run_dir=tmp_path / "run")
    assert result.exit_code == EXIT_INPUT_ERROR and result.status == "error", result.error
    assert said in result.error and "collate" in result.error, result.error
    assert not result.verdicts  # refused as the items are first read, before any gate


def test_a_test_set_too_small_for_the_held_out_comparisons_is_named_as_the_cause(tmp_path):
    error = _refused_before_any_gate(tmp_path, "data.test_size=1", "stop_after=evaluate")
    assert error.startswith("1 test example: the held-out comparisons of beats_baselines"), error
    assert f"need at least {MIN_HELD_OUT}" in error and "data.test_size" in error, error
    assert "gates.beats_baselines.enabled=false" in error


def test_a_validation_split_too_small_for_the_decisions_is_named_as_the_cause(tmp_path):
    code, report = run_pipeline(
        tmp_path / "v", *FAST, "validation.fraction=0.01", "validation.min_items=0", "stop_after=baselines"
    )
    assert code == EXIT_INPUT_ERROR and report["status"] == "error", report
    assert [s["name"] for s in report["stages"] if s["gates"]] in ([], ["setup"]), "refused in setup, before training"
    error = report["error"]
    assert error.startswith("13 validation examples: the held-out comparisons of input_independent"), error
    assert "validation.fraction" in error and "gates.input_independent.enabled=false" in error, error


def test_the_size_check_counts_only_the_gates_that_will_run():
    settings = compose_settings("stop_after=baselines", "gates.beats_baselines.waive='a demo'")
    assert gates_to_run(settings, HELD_OUT_GATES) == ["input_independent"]
    assert gates_to_run(compose_settings("stop_after=setup"), HELD_OUT_GATES) == []
    refuse_too_few_held_out(5, "validation", [])  # no gate needs it: nothing to refuse
    refuse_too_few_held_out(MIN_HELD_OUT, "validation", ["input_independent"])
    with pytest.raises(InputError, match="^29 validation examples: .* need at least 30"):
        refuse_too_few_held_out(29, "validation", ["input_independent"])
