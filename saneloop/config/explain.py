"""One clear message for a config that Hydra cannot compose: the key, the options, the fix.

Hydra's own errors name internals (full_key, object_type, the search path); a user needs the
misspelled key and its closest existing neighbour, or the options a config group has.
"""

from __future__ import annotations

import difflib

from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig


def describe(err: Exception) -> str:
    """One message for a composition or run-dir failure, naming the key and the fix."""
    cause = err.__cause__
    if run_dir_failed(err):
        where = f" {err.filename}" if err.filename else ""
        return (
            f"cannot create or write the run dir{where}: {err.strerror or err}. Choose a writable place "
            "with hydra.run.dir=DIR, or fix its permissions"
        )
    if isinstance(err, MissingConfigException) and err.missing_cfg_file:
        group, _, name = str(err.missing_cfg_file).rpartition("/")
        options = ", ".join(err.options or []) or "none found"
        return (
            f"unknown config option {group}={name}: there is no {err.missing_cfg_file}.yaml. The options for "
            f"{group} are: {options} (a --config-dir can add more)"
        )
    parent = getattr(cause, "parent_node", None)
    key = getattr(cause, "key", None)
    if isinstance(parent, DictConfig) and key is not None and "not in" in str(cause):
        return _unknown_key(str(getattr(cause, "full_key", key)), str(key), parent)
    lines = [line.strip() for line in f"{err}\n{cause or ''}".splitlines() if line.strip()]
    lines = [
        line
        for line in lines
        if not line.startswith(("full_key:", "object_type=", "reference_type=", "Config search path", "provider="))
    ]
    return (
        "bad config: " + "; ".join(lines) + ". `python -m saneloop +recipe=NAME --cfg job` prints the composed config"
    )


def run_dir_failed(err: Exception) -> bool:
    """An OSError from Hydra creating the run dir (Hydra's missing-option error is an OSError too)."""
    return isinstance(err, OSError) and not isinstance(err, HydraException)


def _unknown_key(full_key: str, key: str, parent: DictConfig) -> str:
    node = full_key.rsplit(".", 1)[0] if "." in full_key else "the top level"
    known = [str(k) for k in parent.keys() if str(k) != "hydra"]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {node + '.' if '.' in full_key else ''}{close[0]}?" if close else ""
    message = f"unknown config key {full_key}: {node} has no key '{key}'{hint} Its keys: {', '.join(known)}."
    if "_target_" in parent:
        message += f" To pass a new argument to {node}._target_, write +{full_key}=VALUE."
    return message
