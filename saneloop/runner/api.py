"""The Python API: `saneloop.run(...)` runs a recipe and returns a `RunResult`.

    import saneloop
    result = saneloop.run("classify", overrides=["train.epochs=10"])
    result.status, result.metrics["accuracy"], result.verdict("overfit").message

It composes the config with Hydra's compose API (no global Hydra state is left behind, the working
directory is never changed), runs the same pipeline as the command line, and puts the process's
random, thread and determinism state back afterwards, so it can be called again and again, as a
notebook does. `model=`, `data=` and `task=` take Python objects instead of config nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from ..config.explain import describe
from ..config.store import CONF_PACKAGE, PRIMARY, recipe_names, register_configs
from ..errors import InputError
from ..record.report import write_atomic
from .isolation import isolated
from .objects import holding
from .pipeline import run as run_pipeline
from .result import RunResult


def run(
    recipe: Optional[str] = None,
    overrides: Sequence[str] = (),
    config_dir: Optional[str | Path] = None,
    *,
    model: Optional[nn.Module] = None,
    data: Optional[tuple[Any, Any]] = None,
    task: Any = None,
    run_dir: Optional[str | Path] = None,
    init_from: Optional[str | Path] = None,
) -> RunResult:
    """Run a recipe (built-in, or from `config_dir`, a folder like the CLI's `--config-dir`) with Hydra
    `overrides`; or the recipe of `task` ("classify", "regress", "binary", "charlm") on Python objects:
    `model` (an nn.Module, copied at its initial weights whenever the run builds it), `data`
    (`(train_dataset, test_dataset)`) and `task` (a name, or a Task instance with `recipe=` given).
    `init_from` (the override `init_from.path=`) names pretrained weights the model starts from.

    Returns the outcome; a config that cannot be composed raises InputError naming the fix.
    The run dir defaults to `outputs/<recipe>/<date_time>` under the current folder, as the CLI's.
    """
    recipe = recipe or (task if isinstance(task, str) else None)
    if recipe is None:
        raise InputError(
            f"choose a recipe: saneloop.run('classify', ...) or task='classify' (recipes: "
            f"{', '.join(recipe_names())}; or one of your config_dir's recipe/ files)"
        )
    if init_from is not None:  # an override like any other, so .hydra/overrides.yaml records it for resume
        overrides = [*overrides, f"init_from.path={_quoted(Path(init_from).expanduser().resolve())}"]
    cfg, default_dir = compose_config(recipe, overrides, config_dir)
    target = _fresh(Path(run_dir) if run_dir is not None else default_dir)
    with holding(cfg, model, data, task if not isinstance(task, str) else None) as cfg:
        return run_config(cfg, target, list(overrides), config_dir)


def run_config(
    cfg: DictConfig, run_dir: Path, overrides: Optional[list[str]] = None, config_dir: Optional[str | Path] = None
) -> RunResult:
    """Run a composed config in `run_dir` (what the CLI and `run` share), leaving the process as it was."""
    with isolated():
        if overrides is not None:  # an API run: record how it was composed, as Hydra does for the CLI
            _write_hydra_files(cfg, run_dir, overrides, config_dir)
        return run_pipeline(cfg, run_dir)


def compose_config(
    recipe: str, overrides: Sequence[str] = (), config_dir: Optional[str | Path] = None
) -> tuple[DictConfig, Path]:
    """The config `python -m saneloop +recipe=RECIPE [--config-dir DIR] OVERRIDES` composes, and its
    default run dir."""
    register_configs()
    extra = [f"hydra.searchpath=[file://{Path(config_dir).expanduser().resolve()}]"] if config_dir else []
    backup = _hydra_backup()
    try:
        with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
            cfg = compose(PRIMARY, overrides=[f"+recipe={recipe}", *overrides, *extra], return_hydra_config=True)
    except Exception as err:  # noqa: BLE001 - Hydra's many composition errors become one clear message
        raise InputError(describe(err)) from err
    finally:
        _hydra_restore(backup)
    run_dir = Path(str(cfg.hydra.run.dir))
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, run_dir


def _quoted(path: Path) -> str:
    """`path` as a quoted Hydra override value: spaces, commas, brackets and `=` stay part of it."""
    return "'" + str(path).replace("'", "\\'") + "'"


def _fresh(path: Path) -> Path:
    """`path`, or `path-1`, `path-2`, ... when a run already wrote there (two runs in the same second)."""
    candidate, k = path, 0
    while candidate.exists() and any(candidate.iterdir()):
        k += 1
        candidate = path.with_name(f"{path.name}-{k}")
    return candidate


def _write_hydra_files(cfg: DictConfig, run_dir: Path, overrides: list[str], config_dir: Optional[str | Path]) -> None:
    """`.hydra/overrides.yaml` and `.hydra/config.yaml`, so `python -m saneloop resume=RUN_DIR` works on an
    API run too (the config dir rides along as a search-path override)."""
    recorded = [f"+recipe={cfg.recipe}", *overrides]
    if config_dir:
        recorded.append(f"hydra.searchpath=[file://{Path(config_dir).expanduser().resolve()}]")
    write_atomic(run_dir / ".hydra" / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(recorded)))
    write_atomic(run_dir / ".hydra" / "config.yaml", OmegaConf.to_yaml(cfg))


def _hydra_backup() -> Any:
    """Hydra's global state, if something (a Hydra app, a notebook's own compose) initialised it."""
    instance = GlobalHydra.instance()
    if not instance.is_initialized():
        return None
    backup = instance.hydra
    GlobalHydra.instance().clear()
    return backup


def _hydra_restore(backup: Any) -> None:
    if backup is not None:
        GlobalHydra.instance().initialize(backup)
