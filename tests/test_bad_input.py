"""Every bad input is refused before training with a message naming the problem and the fix, the
documented exit status, and a whole report.json (never a bare traceback, never half a report)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from saneloop.errors import EXIT_HALTED, EXIT_INPUT_ERROR
from saneloop.record.atomic import leftovers
from saneloop.runner import run_config
from tests.conftest import FAST, compose_cfg, run_cli, run_pipeline


@dataclass
class Case:
    what: str
    args: tuple[str, ...]
    message: str  # must appear in the report's error (or the failed gate's message) and, for the CLI, on stderr
    code: int = EXIT_INPUT_ERROR
    halted_at: Optional[tuple[str, str]] = None  # (stage, gate) for a gate halt, else status "error"
    cli: bool = False  # run as a user does (the failure happens before the pipeline starts)
    report: bool = True  # False: no report.json can or should be written there (said why in `what`)


def data(name: str, *extra: str) -> tuple[str, ...]:
    return (f"data._target_=bench.plants.{name}", *extra)


CASES = [
    Case(
        "unknown or misspelled config key",
        ("gates.overfit.max_setps=100",),
        "unknown config key gates.overfit.max_setps: gates.overfit has no key 'max_setps'; did you mean "
        "gates.overfit.max_steps?",
        cli=True,
    ),
    Case(
        "a _target_ that does not import",
        ("model._target_=saneloop.models.NoSuchModel",),
        "model._target_=saneloop.models.NoSuchModel does not import",
    ),
    Case(
        "data callable returning something other than two datasets",
        data("one_dataset"),
        "returned TensorDataset; it must return (train_dataset, test_dataset)",
    ),
    Case("empty dataset", data("empty_train"), "the train dataset is empty"),
    Case(
        "item that is not an (input, target) pair",
        data("unpaired_items"),
        "train item 0 is a tuple; saneloop needs an (input, target) pair",
    ),
    Case(
        "inputs of varying shape",
        data("ragged_inputs"),
        "train inputs have varying shapes [(1, 8, 8), (1, 9, 9)] and cannot be batched",
    ),
    Case(
        "NaN in inputs",
        data("planted_digits", "+data.nan_at=[3,17]"),
        "2 samples hold NaN or Inf: train indices [3, 17]",
        EXIT_HALTED,
        ("setup", "inputs_finite"),
    ),
    Case(
        "classification targets out of range",
        data("planted_digits", "+data.shift_labels=1"),
        "targets outside [0, 10)",
        EXIT_HALTED,
        ("setup", "targets"),
    ),
    Case(
        "classification targets of a float type",
        data("planted_digits", "+data.float_targets=true"),
        "targets have dtype torch.float32; classify needs integer class indices",
        EXIT_HALTED,
        ("setup", "targets"),
    ),
    Case(
        "model output shape that does not fit the task",
        ("model.out_features=7",),
        "the model returned shape [64, 7]; classify expects logits [B, C] = [64, 10]",
    ),
    Case(
        "overfit batch larger than the training set",
        ("gates.overfit.batch_size=5000",),
        "gates.overfit.batch_size=5000 is larger than the training set (1348 examples)",
    ),
    Case(
        "run dir not writable (no report: the dir cannot be written)",
        ("hydra.run.dir={tmp}/a_file/run",),
        "cannot create or write the run dir {tmp}/a_file/run",
        cli=True,
        report=False,
    ),
    Case(
        "resume dir that is not a run dir (no report: not our dir)",
        ("resume={tmp}/nowhere",),
        "{tmp}/nowhere does not exist, so it is not a saneloop run dir",
        cli=True,
        report=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input_is_refused_clearly(case: Case, tmp_path: Path):
    (tmp_path / "a_file").write_text("a file where a folder should be")
    args = [a.format(tmp=tmp_path) for a in case.args]
    message = case.message.format(tmp=tmp_path)
    if case.cli:
        explicit_dir = [a for a in args if a.startswith("hydra.run.dir=")]
        result = run_cli(
            Path(explicit_dir[0].split("=", 1)[1]) if explicit_dir else tmp_path,
            "+recipe=classify",
            *[a for a in args if a not in explicit_dir],
            "output.progress=false",
        )
        assert result.returncode == case.code, result.stdout + result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        code, report = result.returncode, _report(tmp_path) if case.report else None
    else:
        code, report = run_pipeline(tmp_path, *args, *FAST)
    assert code == case.code
    assert (report is not None) == case.report
    assert not leftovers(tmp_path)  # no half-written report (or anything else) left behind
    if report is None:
        return
    assert (tmp_path / "report.md").is_file()
    assert "train" not in [s["name"] for s in report["stages"]]  # refused before any training step
    if case.halted_at:
        assert report["status"] == "halted" and report["halted_at"] == dict(zip(("stage", "gate"), case.halted_at))
        failed = [g for s in report["stages"] for g in s["gates"] if g["status"] == "failed"]
        assert message in failed[0]["message"]
    else:
        assert report["status"] == "error" and message in report["error"], report["error"]


def test_resume_dir_without_a_checkpoint_is_refused_and_keeps_the_earlier_report(tmp_path):
    code, halted = run_pipeline(tmp_path, *FAST, "gates.overfit.max_steps=2", "gates.overfit.ceiling=2")
    assert code == EXIT_HALTED
    result = run_config(
        compose_cfg(*FAST, "gates.overfit.max_steps=2", "gates.overfit.ceiling=2", f"resume={tmp_path}"), tmp_path
    )
    assert result.exit_code == EXIT_INPUT_ERROR and result.status == "error"
    assert (
        f"{tmp_path} has no checkpoint to resume from: that run halted at overfit/overfit, before train "
        "wrote one" in result.error
    )
    assert _report(tmp_path) == halted  # a refused resume changes nothing: the earlier report stays whole
    assert not leftovers(tmp_path)


def _report(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())
