"""`python -m saneloop +recipe=NAME [overrides]`: compose the config with Hydra and run the pipeline."""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from . import pipeline
from .config import CONF_DIR, recipe_names, register_configs
from .errors import EXIT_INPUT_ERROR

_exit_codes: list[int] = []


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="saneloop")
def _hydra_main(cfg: DictConfig) -> int:
    if OmegaConf.is_missing(cfg, "recipe"):
        print(f"saneloop: choose a recipe, e.g. `python -m saneloop +recipe=classify` "
              f"(recipes: {', '.join(recipe_names())})", file=sys.stderr)
        _exit_codes.append(EXIT_INPUT_ERROR)
        return EXIT_INPUT_ERROR
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    code = pipeline.run(cfg, run_dir)
    _exit_codes.append(code)
    return code


def main() -> None:
    register_configs()
    _hydra_main()
    sys.exit(max(_exit_codes, default=0))
