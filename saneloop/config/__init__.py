"""The configuration layer: the typed schema, where the YAML lives, the one reading of a composed
config (`read_settings`) and the builder of everything a user swaps by `_target_` (`Builders`).

The names below are loaded on first use (PEP 562): `saneloop.config.store` (where the YAML lives)
is read by `saneloop --help` and `saneloop ls`, which must not pay for torch and every gate.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Builders": "builders",
    "build": "builders",
    "DATA_META_KEYS": "schema",
    "GatesConfig": "schema",
    "SaneloopConfig": "schema",
    "RunSettings": "settings",
    "read_settings": "settings",
    "CONF_PACKAGE": "store",
    "SEARCH_PATH": "store",
    "conf_dir": "store",
    "options": "store",
    "recipe_names": "store",
    "register_configs": "store",
}
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

if TYPE_CHECKING:
    from .builders import Builders, build
    from .schema import DATA_META_KEYS, GatesConfig, SaneloopConfig
    from .settings import RunSettings, read_settings
    from .store import CONF_PACKAGE, SEARCH_PATH, conf_dir, options, recipe_names, register_configs


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'saneloop.config' has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
