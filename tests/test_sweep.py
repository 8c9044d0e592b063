"""Hydra multirun: halted and crashed jobs are recorded, the sweep goes on, a summary at its root.

Also the optional plugins (Optuna sweeper, submitit SLURM launcher): their example configs compose
with saneloop's, skipped where the plugin is not installed.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import yaml
from hydra import compose, initialize_config_module

from saneloop.cli.sweep import objective, summarize, to_markdown
from saneloop.config import CONF_PACKAGE, register_configs
from saneloop.errors import EXIT_HALTED
from tests.conftest import FAST, REPO

RECIPES = ("classify", "binary", "regress", "charlm")

MODELS = "saneloop.models.MLP,bench.plants.ScaledInitMLP,bench.plants.CrashOnProcessMLP"


def test_multirun_records_halted_and_crashed_jobs_and_goes_on(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "saneloop",
            "-m",
            "+recipe=classify",
            f"model._target_={MODELS}",
            *FAST,
            f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert result.returncode == EXIT_HALTED, result.stdout + result.stderr  # the worst job's status
    rows = list(csv.DictReader((sweep_dir / "summary.csv").open()))
    assert [r["job"] for r in rows] == ["0", "1", "2"]
    assert [r["status"] for r in rows] == ["passed", "halted", "error"]
    assert all(r["overrides"].startswith("+recipe=classify") for r in rows)
    assert "model._target_=bench.plants.ScaledInitMLP" in rows[1]["overrides"]
    assert rows[1]["halted_at"] == "sanity/init_loss" and rows[2]["error"].startswith("RuntimeError: planted crash")
    assert float(rows[0]["metric.accuracy"]) > 0.5 and rows[0]["metric.count"] == "449"
    assert rows[0]["headline"] == "accuracy" and rows[1]["metric.accuracy"] == ""
    # what the sweep optimised: the validation headline, named with its direction (issue 23)
    assert rows[0]["direction"] == "maximize" and float(rows[0]["val.accuracy"]) > 0.5 and rows[0]["val.count"] == "135"
    assert [r["run_dir"] for r in rows] == ["0", "1", "2"]
    markdown = (sweep_dir / "summary.md").read_text()
    assert "| model._target_=bench.plants.ScaledInitMLP | halted | sanity/init_loss |" in markdown
    assert "Every job: `+recipe=classify train.epochs=3" in markdown
    assert (
        "Objective (what each job returns to the sweeper): validation accuracy (`val.accuracy`), maximized" in markdown
    )
    assert "sweep summary: 3 jobs, 1 passed, 1 halted, 1 error" in result.stdout


def test_objective_is_the_validation_headline_of_passed_runs_only(tmp_path):
    """Never the test metric: a search that picked on it would report a number it had tuned on."""
    report = {
        "status": "passed",
        "headline": "accuracy",
        "val_metrics": {"accuracy": 0.95, "count": 135},
        "metrics": {"accuracy": 0.97, "count": 449},
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert objective(tmp_path) == 0.95
    (tmp_path / "report.json").write_text(json.dumps({**report, "status": "halted"}))
    assert objective(tmp_path) is None  # Optuna records a non-float return as a failed trial
    assert objective(tmp_path / "missing") is None


def test_summary_lists_a_job_that_left_no_report(tmp_path):
    """A job that died before writing report.json (killed, out of memory) still gets its row."""
    job = tmp_path / "0"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- seed=1\n")
    rows = summarize(tmp_path, {})
    assert rows == [
        {"job": None, "overrides": "seed=1", "run_dir": "0", "status": "crashed", "error": "no report.json"}
    ]
    assert "| seed=1 | crashed |" in to_markdown(rows, tmp_path)


def _compose_with_hydra(*overrides: str, recipe: str = "classify"):
    register_configs()
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        return compose("saneloop", overrides=[f"+recipe={recipe}", *overrides], return_hydra_config=True)


def test_optuna_example_composes_with_the_sweeper():
    cfg = _compose_with_hydra("+hparams_search=optuna")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert sweeper.direction == "maximize" and sweeper.max_failure_rate == 1.0
    assert set(sweeper.params) == {"optim.lr", "optim.weight_decay"}
    assert cfg.hydra.callbacks.sweep_summary._target_ == "saneloop.cli.sweep.SweepSummary"


def test_the_optuna_search_takes_its_direction_from_the_task():
    """charlm's headline is bits per character: a search that maximised it would look for the worst model."""
    directions = {r: _compose_with_hydra("+hparams_search=optuna", recipe=r).hydra.sweeper.direction for r in RECIPES}
    assert directions == {"classify": "maximize", "binary": "maximize", "regress": "maximize", "charlm": "minimize"}


def test_charlm_search_minimises_validation_bits_per_char(tmp_path):
    """The direction from the task, the value from the validation split, both named in the summary."""
    assert _compose_with_hydra("+hparams_search=optuna", recipe="charlm").hydra.sweeper.direction == "minimize"
    job = tmp_path / "0"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- optim.lr=0.003\n")
    report = {
        "status": "passed",
        "headline": "bits_per_char",
        "direction": "minimize",
        "val_metrics": {"bits_per_char": 2.61},
        "metrics": {"bits_per_char": 2.57},
    }
    (job / "report.json").write_text(json.dumps(report))
    assert objective(job) == 2.61
    rows = summarize(tmp_path, {})
    assert rows[0]["val.bits_per_char"] == 2.61 and rows[0]["metric.bits_per_char"] == 2.57
    assert "validation bits_per_char (`val.bits_per_char`), minimized" in to_markdown(rows, tmp_path)


def test_slurm_example_composes_with_the_submitit_launcher():
    cfg = _compose_with_hydra("+cluster=slurm", "hydra.launcher.partition=gpu")
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher.partition == "gpu" and launcher.gpus_per_node == 1 and launcher.tasks_per_node == 1


PLANTED_SEARCH = """# @package _global_
defaults:
  - override /hydra/sweeper: optuna
  - override /hydra/sweeper/sampler: grid
hydra:
  sweeper:  # as conf/hparams_search/optuna.yaml, over a clean model and one planted to halt at init_loss
    direction: maximize
    n_trials: 3  # of a 2x2 grid: any 3 points hold both models (and the grid never runs dry mid-study)
    n_jobs: 1
    max_failure_rate: 1.0
    params:
      model._target_: choice(saneloop.models.MLP, bench.plants.ScaledInitMLP)
      seed: choice(0, 1)
"""


def _sweep(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "saneloop", "-m", *args, *FAST, f"hydra.sweep.dir={sweep_dir}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
    )
    summary = sweep_dir / "summary.csv"
    return result, list(csv.DictReader(summary.open())) if summary.is_file() else []


def test_optuna_study_of_three_trials_records_the_halted_ones_as_failed(tmp_path):
    """A real (tiny) Optuna study: trials planted to halt are failed trials, the study goes on, the
    summary lists every trial, and the best trial is a clean one."""
    (tmp_path / "conf" / "hparams_search").mkdir(parents=True)
    (tmp_path / "conf" / "hparams_search" / "planted.yaml").write_text(PLANTED_SEARCH)
    result, rows = _sweep(
        tmp_path, "--config-dir", str(tmp_path / "conf"), "+recipe=classify", "+hparams_search=planted"
    )
    assert result.returncode == EXIT_HALTED, result.stdout + result.stderr  # the worst trial's status
    assert len(rows) == 3 and {r["status"] for r in rows} == {"passed", "halted"}
    halted = [r for r in rows if r["status"] == "halted"]
    assert all("ScaledInitMLP" in r["overrides"] and r["halted_at"] == "sanity/init_loss" for r in halted)
    assert (result.stdout + result.stderr).count("Return value must be float-castable") == len(halted)
    best = (tmp_path / "sweep" / "optimization_results.yaml").read_text()
    assert "saneloop.models.MLP" in best and "ScaledInitMLP" not in best
    found = yaml.safe_load(best)["best_value"]  # the validation headline, never the test metric
    assert found == max(float(r["val.accuracy"]) for r in rows if r["status"] == "passed")


def test_submitit_launcher_runs_two_jobs_locally_and_the_cli_reports_their_status(tmp_path):
    """Hydra's submitit launcher in its local mode: each job its own process, as on a cluster."""
    result, rows = _sweep(
        tmp_path,
        "+recipe=classify",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        "model._target_=saneloop.models.MLP,bench.plants.ScaledInitMLP",
    )
    assert result.returncode == EXIT_HALTED, result.stdout + result.stderr  # known from the jobs' reports
    assert [r["status"] for r in rows] == ["passed", "halted"] and rows[1]["halted_at"] == "sanity/init_loss"
    assert float(rows[0]["metric.accuracy"]) > 0.8
    assert len(list((tmp_path / "sweep" / ".submitit").glob("*/*_result.pkl"))) == 2  # two jobs ran apart
