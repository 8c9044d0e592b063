"""The command line's own commands (help, ls, cp, no recipe) and what a refused config leaves on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from saneloop.config import recipe_names
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from tests.conftest import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _saneloop(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "saneloop", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300
    )


def test_help_names_saneloop_lists_the_recipes_and_gives_the_first_command(tmp_path):
    result = _saneloop("--help", cwd=tmp_path)
    assert result.returncode == EXIT_PASSED
    assert result.stdout.startswith("saneloop:") and "python -m saneloop +recipe=classify" in result.stdout
    assert f"Recipes: {', '.join(recipe_names())}" in result.stdout
    assert not (tmp_path / "outputs").exists()


def test_no_recipe_prints_the_hint_and_writes_nothing(tmp_path):
    result = _saneloop(cwd=tmp_path)
    assert result.returncode == EXIT_INPUT_ERROR
    assert result.stderr.strip().startswith("saneloop: choose a recipe, e.g. `python -m saneloop +recipe=classify`")
    assert "MissingMandatoryValue" not in result.stderr and not any(tmp_path.iterdir())


def test_ls_lists_every_group_and_its_options(tmp_path):
    result = _saneloop("ls", cwd=tmp_path)
    assert result.returncode == EXIT_PASSED
    assert f"recipe: {', '.join(recipe_names())}" in result.stdout and "model: char_transformer, mlp" in result.stdout


def test_cp_copies_a_recipe_to_edit_and_it_runs_from_the_users_config_dir(tmp_path):
    result = _saneloop("cp", "classify", cwd=tmp_path)
    assert result.returncode == EXIT_PASSED, result.stderr
    copied = tmp_path / "conf" / "recipe" / "my_classify.yaml"
    assert copied.is_file() and "recipe: my_classify" in copied.read_text()
    assert "+recipe=my_classify --config-dir conf" in result.stdout
    copied.write_text(copied.read_text().replace("epochs: 60", "epochs: 3"))  # the user's edit
    run = _saneloop(
        "+recipe=my_classify", "--config-dir", "conf", "output.progress=false", "hydra.run.dir=run", cwd=tmp_path
    )
    assert run.returncode == EXIT_PASSED, run.stdout + run.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["recipe"] == "my_classify" and report["status"] == "passed"
    assert "train.epochs=3" not in (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()  # the edit ran
    again = _saneloop("cp", "classify", cwd=tmp_path)
    assert again.returncode == EXIT_INPUT_ERROR and "exists" in again.stderr
    assert _saneloop("cp", "model/mlp", "conf", cwd=tmp_path).returncode == EXIT_PASSED
    assert (tmp_path / "conf" / "model" / "my_mlp.yaml").is_file()
    unknown = _saneloop("cp", "model/nosuch", cwd=tmp_path)
    assert unknown.returncode == EXIT_INPUT_ERROR and "char_transformer, mlp" in unknown.stderr


@pytest.mark.parametrize(
    "bad",
    [
        ["gates.overfit.treshold=0.1"],  # a misspelled key (Hydra refuses it)
        ["threads=0"],  # a value out of range (saneloop refuses it before the first gate)
        ["accelerator.mixed_precision=bogus"],  # a mode Accelerate does not know
        ["model=nosuch"],  # an unknown config option
    ],
    ids=["typo", "range", "choice", "option"],
)
def test_a_refused_config_leaves_no_run_dir_without_its_report(tmp_path, bad):
    result = _saneloop("+recipe=classify", *bad, cwd=tmp_path)
    assert result.returncode == EXIT_INPUT_ERROR and "Traceback" not in result.stderr, result.stderr
    run_dirs = [p for p in (tmp_path / "outputs").rglob("*") if p.is_dir() and p.parent.parent.name == "outputs"]
    assert run_dirs, "the refusal is recorded where a sweep would look"
    for run_dir in run_dirs:
        report = json.loads((run_dir / "report.json").read_text())
        assert report["status"] == "error" and report["stages"] == [], report


@pytest.mark.parametrize("args", [["--help"], ["ls"], []], ids=["help", "ls", "no-recipe"])
def test_commands_that_run_nothing_answer_without_importing_torch(tmp_path, args):
    """`saneloop --help` and `saneloop ls` answer at once (torch alone takes seconds to import)."""
    probe = (
        "import sys, runpy; sys.argv = ['saneloop', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('saneloop', run_name='__main__')\n"
        "except SystemExit as done:\n    code = done.code\n"
        "heavy = sorted(m for m in ('torch', 'hydra', 'accelerate') if m in sys.modules)\n"
        "print('HEAVY', heavy, 'CODE', code, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120
    )
    assert result.stderr.strip().splitlines()[-1] == f"HEAVY [] CODE {EXIT_PASSED if args else EXIT_INPUT_ERROR}"
    assert "classify" in result.stdout + result.stderr  # each answer names the recipes


def test_a_run_uses_one_torch_thread_unless_asked():
    """Tiny models on a busy machine: one thread per process by default (README, "Performance")."""
    from saneloop.config import read_settings
    from tests.conftest import compose_cfg

    assert read_settings(compose_cfg()).threads == 1
    assert read_settings(compose_cfg("threads=null")).threads is None  # torch's own default, one per core
