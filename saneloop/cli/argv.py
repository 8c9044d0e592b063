"""Hydra's command line, made forgiving: its flags may come after the overrides."""

from __future__ import annotations

# Hydra's own flags that take a value; the value follows the flag as the next argument.
_FLAGS_WITH_VALUE = {
    "--config-dir",
    "-cd",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--experimental-rerun",
    "--shell-completion",
    "-sc",
}
_INFO_CHOICES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def options_first(argv: list[str]) -> list[str]:
    """Move Hydra's flags before the overrides, so `+recipe=classify --config-dir DIR model=X` works.

    Hydra parses overrides as one positional list, which argparse cannot interleave with flags.
    """
    flags, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-"):  # overrides never start with a dash
            flags.append(arg)
            takes_value = arg in _FLAGS_WITH_VALUE or (
                arg in {"--info", "-i"} and i + 1 < len(argv) and argv[i + 1] in _INFO_CHOICES
            )
            if takes_value and i + 1 < len(argv):
                flags.append(argv[i + 1])
                i += 1
        else:
            overrides.append(arg)
        i += 1
    return flags + overrides
