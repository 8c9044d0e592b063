"""Where saneloop's configs live: inside the package (`saneloop/conf`, package data), found by Hydra
through the `pkg://saneloop.conf` search path, so an installed wheel works from any folder.

Recipes are the native config group `recipe` (`saneloop/conf/recipe/NAME.yaml`, `+recipe=NAME`); a
user's config dir may add its own `recipe/`, `model/` and `data/` options beside them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CONF_PACKAGE = "saneloop.conf"
SEARCH_PATH = f"pkg://{CONF_PACKAGE}"
PRIMARY = "saneloop"  # saneloop/conf/saneloop.yaml: the schema, the defaults, the run-dir layout
GROUPS = ("recipe", "data", "model", "optim", "task", "augment", "hparams_search", "cluster")


def register_configs() -> None:
    """Store the typed schema that saneloop.yaml builds on, and the resolvers its configs use (idempotent).
    Imported here, not above: `--help` and `ls` read where the YAML lives without the schema's gates."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from .schema import SaneloopConfig

    ConfigStore.instance().store(name="saneloop_schema", node=SaneloopConfig)
    if not OmegaConf.has_resolver("saneloop.direction"):
        OmegaConf.register_new_resolver("saneloop.direction", direction_of)


def direction_of(task_target: str) -> str:
    """`maximize` or `minimize`: which way the headline of the task `task_target` (its `_target_`) improves,
    from the task's `higher_is_better` trait. A sweep that optimises the headline reads it (optuna.yaml)."""
    from hydra.utils import get_class

    from ..tasks.traits import traits_of

    return "maximize" if traits_of(get_class(task_target)).higher_is_better else "minimize"


def conf_dir() -> Path:
    """The folder of saneloop's own configs, wherever the package is installed."""
    return Path(str(resources.files(CONF_PACKAGE)))


def options(group: str) -> list[str]:
    """The built-in options of a config group (e.g. the recipes), sorted."""
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def recipe_names() -> list[str]:
    return options("recipe")
