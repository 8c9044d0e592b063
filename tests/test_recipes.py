"""Every recipe by glob, and bring-your-own for each task, end to end as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from torch.utils.data import default_collate

from saneloop.config import Builders, recipe_names
from saneloop.errors import EXIT_PASSED
from tests.conftest import REPO, assert_every_gate_passed, compose_cfg, not_applicable, run_pipeline

# One torch thread in the user's runs too: see tests/conftest.py for why.
USER_ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("recipe", recipe_names())
def test_every_recipe_builds_and_its_model_fits_its_task(recipe):
    cfg = compose_cfg(recipe=recipe)
    assert cfg.recipe == recipe
    built = Builders(cfg)
    task, (train, _, _), model = built.task(), built.datasets(), built.model()
    inputs, targets = default_collate([train[i] for i in range(4)])
    with torch.no_grad():
        assert task.output_problem(model(inputs), 4) is None
    assert task.target_problems(targets) == []


# (example folder, recipe, overrides after --config-dir conf, what its report must show)
BYO = [
    ("byo_regress", "regress", ["model=residual_mlp", "data=my_diabetes"], ("my_regression.ResidualMLP", 100)),
    ("byo_binary", "binary", ["model=small_net", "data=tumours", "train.epochs=30"], ("my_binary.SmallNet", 170)),
    (
        "byo_charlm",
        "charlm",
        ["model=gru", "data=lowercase_text", "train.max_steps=300"],
        ("my_lm.GRULanguageModel", 1248),
    ),
]


@pytest.mark.parametrize("folder, recipe, overrides, expect", BYO, ids=[b[0] for b in BYO])
def test_bring_your_own_model_and_data_for_each_recipe(tmp_path, folder, recipe, overrides, expect):
    """The README's worked examples: a user's project folder with its own code and config dir."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "examples" / folder, project)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "saneloop",
            f"+recipe={recipe}",
            "--config-dir",
            "conf",
            *overrides,
            "output.progress=false",
            "output.save_weights=false",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=project,
        env=USER_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == EXIT_PASSED, result.stdout + result.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert_every_gate_passed(report, not_applicable(recipe))
    assert expect[0] in (tmp_path / "run" / "config.yaml").read_text() and report["metrics"]["count"] == expect[1]


@pytest.mark.slow
def test_charlm_default_recipe_beats_the_unigram_and_bigram_baselines(tmp_path):
    """The full default run (~2000 steps, a few minutes on 2 CPU cores)."""
    code, report = run_pipeline(tmp_path, "output.progress=false", recipe="charlm")
    assert code == EXIT_PASSED, report
    assert_every_gate_passed(report, not_applicable("charlm"))
    bits, base = report["metrics"]["bits_per_char"], report["baselines"]
    assert bits < base["bigram_bits_per_char"] - 0.5 and bits < base["unigram_bits_per_char"] - 1.5


def test_readme_own_recipe_example_runs_from_a_users_config_dir(tmp_path):
    """The README's 'Write your own recipe' YAML, saved as conf/recipe/diabetes_linear.yaml."""
    readme = (REPO / "README.md").read_text()
    start = readme.index("# @package _global_\n# A linear model on diabetes")
    (tmp_path / "conf" / "recipe").mkdir(parents=True)
    (tmp_path / "conf" / "recipe" / "diabetes_linear.yaml").write_text(readme[start : readme.index("```", start)])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "saneloop",
            "+recipe=diabetes_linear",
            "--config-dir",
            "conf",
            "output.progress=false",
            "output.save_weights=false",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=tmp_path,
        env=USER_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == EXIT_PASSED, result.stdout + result.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["recipe"] == "diabetes_linear" and report["metrics"]["r2"] > 0.4
