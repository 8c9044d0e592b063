"""`python -m saneloop +recipe=NAME [overrides]`: compose the config with Hydra and run the pipeline."""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from . import distributed, pipeline, startup, sweep
from .config import CONF_DIR, recipe_names, register_configs
from .errors import EXIT_INPUT_ERROR

_exit_codes: list[int] = []


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="saneloop")
def _hydra_main(cfg: DictConfig) -> float | None:
    """One job; returns what a sweeper optimises (the test headline metric; None unless passed)."""
    startup.started()
    if OmegaConf.is_missing(cfg, "recipe"):
        print(f"saneloop: choose a recipe, e.g. `python -m saneloop +recipe=classify` "
              f"(recipes: {', '.join(recipe_names())})", file=sys.stderr)
        _exit_codes.append(EXIT_INPUT_ERROR)
        return None
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    code = pipeline.run(cfg, run_dir)
    _exit_codes.append(code)
    return sweep.objective(run_dir)


# Hydra's own flags that take a value; the value follows the flag as the next argument.
_FLAGS_WITH_VALUE = {"--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn", "--cfg", "-c",
                     "--package", "-p", "--experimental-rerun", "--shell-completion", "-sc"}
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
            takes_value = arg in _FLAGS_WITH_VALUE or (arg in {"--info", "-i"} and i + 1 < len(argv)
                                                        and argv[i + 1] in _INFO_CHOICES)
            if takes_value and i + 1 < len(argv):
                flags.append(argv[i + 1])
                i += 1
        else:
            overrides.append(arg)
        i += 1
    return flags + overrides


def main() -> None:
    register_configs()
    argv = options_first(sys.argv[1:])
    argv += distributed.quiet_hydra_overrides(argv)  # processes other than the main one
    refused = startup.launch(_hydra_main, argv)  # resume=, config errors, run dir
    sys.exit(refused if refused is not None else max(_exit_codes, default=0))
