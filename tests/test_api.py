"""The Python API, as a notebook or a user's own sweep script calls it: `saneloop.run(...)`."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

import saneloop
from saneloop.datasets import digits
from saneloop.errors import EXIT_HALTED, EXIT_PASSED, InputError
from saneloop.models import MLP
from saneloop.tasks import Classify
from tests.conftest import REPO

QUICK = ["train.epochs=3", "output.progress=false", "output.save_weights=false", "output.figures=false"]


def _process_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state()[1].copy(),
        "python": random.getstate(),
        "threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "cwd": os.getcwd(),
        "hydra": GlobalHydra.instance().is_initialized(),
    }


def test_runs_twice_in_one_process_with_different_recipes_and_leaves_no_state_behind(tmp_path):
    torch.manual_seed(1234)
    before = _process_state()
    first = saneloop.run("classify", QUICK, run_dir=tmp_path / "a")
    second = saneloop.run("regress", ["output.progress=false", "output.figures=false"], run_dir=tmp_path / "b")
    after = _process_state()
    assert first.passed and first.exit_code == EXIT_PASSED and first.metrics["accuracy"] > 0.8
    assert second.passed and second.headline == "r2" and second.metrics["r2"] > 0.3
    assert (
        first.run_dir == tmp_path / "a"
        and json.loads((tmp_path / "a" / "report.json").read_text())["status"] == "passed"
    )
    assert [v.gate for v in first.verdicts][:2] == ["targets", "classes_present"]
    assert first.verdict("overfit").passed and "every example right" in first.verdict("overfit").message
    assert torch.equal(after.pop("torch"), before.pop("torch")) and (after.pop("numpy") == before.pop("numpy")).all()
    assert after == before  # random streams, threads, determinism, cwd and Hydra as they were
    again = saneloop.run("classify", QUICK, run_dir=tmp_path / "c")
    assert again.metrics == first.metrics  # the same seed, the same numbers, whatever ran before


def test_a_halt_is_a_result_and_a_bad_recipe_an_error(tmp_path):
    halted = saneloop.run(
        "classify", [*QUICK, "gates.overfit.max_steps=2", "gates.overfit.ceiling=2"], run_dir=tmp_path / "h"
    )
    assert halted.status == "halted" and halted.exit_code == EXIT_HALTED and not halted.passed
    assert halted.halted_at == {"stage": "overfit", "gate": "overfit"} and not halted.verdict("overfit").passed
    with pytest.raises(InputError, match="The options for recipe are: binary, charlm, classify, regress"):
        saneloop.run("clasify")
    with pytest.raises(InputError, match="did you mean gates.overfit.max_steps"):
        saneloop.run("classify", ["gates.overfit.max_setps=100"])
    with pytest.raises(InputError, match="choose a recipe"):
        saneloop.run()


def test_python_objects_instead_of_yaml(tmp_path):
    """A model and datasets built in a notebook; the recipe of `task` supplies the rest."""
    torch.manual_seed(0)
    model = MLP(in_features=64, out_features=10)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    result = saneloop.run(model=model, data=digits(), task="classify", overrides=QUICK, run_dir=tmp_path / "o")
    assert result.passed, result.report
    assert result.metrics["count"] == 449 and result.metrics["accuracy"] > 0.8
    assert result.verdict("capacity").status == "skipped"  # a hand-built model has no config width to widen
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())  # the caller's model untouched
    assert saneloop.runner.objects._HELD == {}  # nothing held once the run is over
    task = saneloop.run(recipe="classify", task=Classify(10), model=model, overrides=QUICK, run_dir=tmp_path / "t")
    assert task.passed and "saneloop.runner.objects.held" in (tmp_path / "t" / "config.yaml").read_text()


def test_a_users_config_dir_and_a_resume_from_the_cli(tmp_path, monkeypatch):
    """`config_dir=` is the CLI's --config-dir; an API run records its overrides, so the CLI resumes it."""
    monkeypatch.syspath_prepend(str(REPO / "examples" / "byo"))
    run_dir = tmp_path / "byo"
    result = saneloop.run(
        "classify", ["model=tiny_cnn", "data=my_digits", *QUICK], REPO / "examples" / "byo" / "conf", run_dir=run_dir
    )
    assert result.passed and "my_project.TinyCNN" in (run_dir / "config.yaml").read_text()
    resumed = subprocess.run(
        [sys.executable, "-m", "saneloop", f"resume={run_dir}"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "examples/byo")])},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == EXIT_PASSED, resumed.stdout + resumed.stderr
    assert "resumed from" in json.loads((run_dir / "report.json").read_text())["notes"][0]


FIRST_RUN = """
import random, sys
import saneloop
before = random.getstate()
result = saneloop.run("classify", ["stop_after=setup", "output.progress=false"], run_dir=sys.argv[1])
assert result.status == "stopped", result.error
print("unchanged" if random.getstate() == before else "changed")
"""


def test_the_first_run_in_a_process_leaves_pythons_random_stream_as_it_was(tmp_path):
    """A fresh process: the libraries a first run imports (rich draws an id from `random` as it loads) must not
    move the user's stream, or a notebook's own random numbers differ with and without a run before them."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_RUN, str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "unchanged"
