"""Hydra's entry: each job (one run, or one of a sweep) handed to `saneloop.runner.run_config`, the
same function `saneloop.run()` calls. Imported only once a command is known to run something: it
loads Hydra, torch and the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..config.store import PRIMARY, SEARCH_PATH, register_configs
from ..engine import distributed
from ..runner import run_config
from . import startup, sweep
from .argv import options_first

_exit_codes: list[int] = []


@hydra.main(version_base="1.3", config_path=SEARCH_PATH, config_name=PRIMARY)
def _hydra_main(cfg: DictConfig) -> Optional[float]:
    """One job; returns what a sweeper optimises (the validation headline; None unless passed)."""
    startup.started()
    result = run_config(cfg, Path(HydraConfig.get().runtime.output_dir))
    _exit_codes.append(result.exit_code)
    return sweep.objective_of(result)


def run(argv: list[str]) -> int:
    """Run Hydra on `argv`; the worst job's status (jobs run here, and jobs a launcher ran elsewhere,
    read from their reports), or the status of a refusal before any job started."""
    register_configs()
    argv = options_first(argv)
    argv += distributed.quiet_hydra_overrides(argv)  # processes other than the main one
    _exit_codes.clear()
    sweep.exit_codes.clear()
    refused = startup.launch(_hydra_main, argv)  # resume=, config errors, run dir
    return refused if refused is not None else max(_exit_codes + sweep.exit_codes, default=0)
