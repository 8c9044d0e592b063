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

import pytest
from hydra import compose, initialize_config_module

from saneloop.cli.sweep import objective, summarize, to_markdown
from saneloop.config import CONF_PACKAGE, register_configs
from saneloop.errors import EXIT_HALTED
from tests.conftest import FAST, REPO

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
    assert [r["run_dir"] for r in rows] == ["0", "1", "2"]
    markdown = (sweep_dir / "summary.md").read_text()
    assert "| model._target_=bench.plants.ScaledInitMLP | halted | sanity/init_loss |" in markdown
    assert "Every job: `+recipe=classify train.epochs=3" in markdown
    assert "sweep summary: 3 jobs, 1 passed, 1 halted, 1 error" in result.stdout


def test_objective_is_the_headline_metric_of_passed_runs_only(tmp_path):
    report = {"status": "passed", "headline": "accuracy", "metrics": {"accuracy": 0.97, "count": 449}}
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert objective(tmp_path) == 0.97
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


def _compose_with_hydra(*overrides: str):
    register_configs()
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        return compose("saneloop", overrides=["+recipe=classify", *overrides], return_hydra_config=True)


def test_optuna_example_composes_with_the_sweeper():
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    cfg = _compose_with_hydra("+hparams_search=optuna")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert sweeper.direction == "maximize" and sweeper.max_failure_rate == 1.0
    assert set(sweeper.params) == {"optim.lr", "optim.weight_decay"}
    assert cfg.hydra.callbacks.sweep_summary._target_ == "saneloop.cli.sweep.SweepSummary"


def test_slurm_example_composes_with_the_submitit_launcher():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = _compose_with_hydra("+cluster=slurm", "hydra.launcher.partition=gpu")
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher.partition == "gpu" and launcher.gpus_per_node == 1 and launcher.tasks_per_node == 1


PLANTED_SEARCH = """# @package _global_
defaults:
  - override /hydra/sweeper: optuna
  - override /hydra/sweeper/sampler: grid
hydra:
  sweeper:  # as conf/hparams_search/optuna.yaml, over three models, one planted to halt, one to crash
    direction: maximize
    n_trials: 3
    n_jobs: 1
    max_failure_rate: 1.0
    params:
      model._target_: choice(%s)
"""


@pytest.mark.slow
def test_optuna_search_records_halted_trials_as_failed(tmp_path):
    """A real (tiny) Optuna study: the trial planted to halt and the one planted to crash are failed
    trials, the study goes on and picks the passing one."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    (tmp_path / "conf" / "hparams_search").mkdir(parents=True)
    (tmp_path / "conf" / "hparams_search" / "planted.yaml").write_text(PLANTED_SEARCH % MODELS.replace(",", ", "))
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "saneloop",
            "-m",
            "--config-dir",
            str(tmp_path / "conf"),
            "+recipe=classify",
            "+hparams_search=planted",
            *FAST,
            f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
        timeout=600,
    )
    assert result.returncode == EXIT_HALTED, result.stdout + result.stderr
    rows = list(csv.DictReader((sweep_dir / "summary.csv").open()))
    assert sorted(r["status"] for r in rows) == ["error", "halted", "passed"]
    assert (result.stdout + result.stderr).count("Failed experiment: Return value must be float-castable") == 2
    best = (sweep_dir / "optimization_results.yaml").read_text()
    assert "saneloop.models.MLP" in best
