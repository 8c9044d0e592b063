"""The configuration layer: the typed schema, where the YAML lives, the one reading of a composed
config (`read_settings`) and the builder of everything a user swaps by `_target_` (`Builders`)."""

from .builders import Builders, build
from .schema import DATA_META_KEYS, GatesConfig, SaneloopConfig
from .settings import RunSettings, read_settings
from .store import CONF_PACKAGE, SEARCH_PATH, conf_dir, options, recipe_names, register_configs

__all__ = [
    "CONF_PACKAGE",
    "Builders",
    "DATA_META_KEYS",
    "GatesConfig",
    "RunSettings",
    "SEARCH_PATH",
    "SaneloopConfig",
    "build",
    "conf_dir",
    "options",
    "read_settings",
    "recipe_names",
    "register_configs",
]
