"""Shared helpers: compose a config like the CLI does, run the pipeline in-process or as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from saneloop.checks import GATES
from saneloop.checks.base import registry
from saneloop.errors import EXIT_HALTED
from saneloop.runner import compose_config, run_config

REPO = Path(__file__).resolve().parent.parent

# One torch thread, here and in every process the tests start: the models are tiny, and two threads
# on a 2-core CI machine wait on each other (several times slower under load).
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)
FAST = ["train.epochs=3", "output.progress=false", "output.save_weights=false"]


def compose_cfg(*overrides: str, recipe: str = "classify"):
    return compose_config(recipe, overrides)[0]


def run_pipeline(run_dir: Path, *overrides: str, recipe: str = "classify") -> tuple[int, dict]:
    """Compose and run in this process, as the CLI does; return the exit status and report.json."""
    result = run_config(compose_cfg(*overrides, recipe=recipe), run_dir)
    return result.exit_code, json.loads((run_dir / "report.json").read_text())


def start_cli(run_dir: Path, *args: str, code: str = "from saneloop.cli import main; main()") -> subprocess.Popen:
    """The CLI started in the background (`code` may plant a delay first), from the repo root; output piped."""
    return subprocess.Popen(
        [sys.executable, "-c", code, "+recipe=classify", *args, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_cli(run_dir: Path, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m saneloop ARGS hydra.run.dir=run_dir` from the repo root, as a user runs it."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "saneloop", *args, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def gate(report: dict, name: str) -> dict:
    return next(g for s in report["stages"] for g in s["gates"] if g["name"] == name)


# Gates that do not apply to the classify recipe's defaults: a non-causal task, a model without a
# reference implementation, no gradient accumulation, one process.
# What each recipe's run meets of the gates' conditions (`Gate.applies`); the gates whose conditions it
# does not meet skip by design, saying why. The tests' charlm budget is one epoch, its recipe names no
# wider model; regress targets are not class labels.
RECIPE_CONDITIONS = {
    "classify": {"class_labels", "wider", "epochs"},
    "binary": {"class_labels", "wider", "epochs"},
    "regress": {"wider", "epochs", "continuous_targets", "leak_probe"},
    "charlm": {"causal"},
}
# Gates for padded batches and models with their own loss skip where there is no padding mask (or
# model_output.model_loss is off).
PADDING_GATES = {g.name for g in GATES if {"padded", "model_loss"} & set(g.applies)}


def not_applicable(recipe: str) -> set[str]:
    """Gates a recipe's run skips by design, from the registry: each gate says what it needs of a run."""
    met = RECIPE_CONDITIONS[recipe]
    return {g.name for g in GATES if not set(g.applies) <= met}


NOT_APPLICABLE = not_applicable("classify")


def assert_every_gate_passed(report: dict, not_applicable: set[str] = NOT_APPLICABLE) -> None:
    """Every gate passed, except those that do not apply here, which must say so (skipped)."""
    for stage in report["stages"]:
        for g in stage["gates"]:
            want = "skipped" if g["name"] in not_applicable else "passed"
            assert g["status"] == want, f"{stage['name']}/{g['name']}: {g['status']}: {g['message']}"


def stop_after(gate_name: str) -> str:
    """The override that ends a run after the stage `gate_name` runs in (from the registry). A planted bug's
    run goes no further than the gate that must halt it: should the gate stop halting it, the test fails
    at once (status "stopped", not "halted") instead of training on. A clean run whose test asserts only
    on that gate (or earlier ones) skips the stages after it."""
    return f"stop_after={registry.gate(gate_name).stage}"


def assert_halted_at(code: int, report: dict, stage: str, gate_name: str) -> dict:
    assert code == EXIT_HALTED, report
    assert report["status"] == "halted"
    assert report["halted_at"] == {"stage": stage, "gate": gate_name}, report["halted_at"]
    ran = [s["name"] for s in report["stages"]]
    assert ran[-1] == stage, f"stages after {stage} ran: {ran}"
    return gate(report, gate_name)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> tuple[int, dict, Path]:
    """The default classify recipe, exactly as `python -m saneloop +recipe=classify` runs it."""
    run_dir = tmp_path_factory.mktemp("default_run")
    code, report = run_pipeline(run_dir, "output.progress=false")
    return code, report, run_dir
