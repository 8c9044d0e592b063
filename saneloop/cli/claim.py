"""The run dir is claimed before Hydra writes into it (a Hydra callback, registered in saneloop.yaml).

Hydra writes `.hydra/` and its log into the run dir before the job starts: claimed only by the
pipeline, a second run started together would already have rewritten the first's `.hydra/`, and a
new run in a finished dir the old run's. `on_run_start` comes before those writes, so the lock is
taken (and a finished run refused, or moved aside) there; the pipeline's own claim then nests in it.
Only the main process claims; the others write nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ..engine import distributed
from ..record import run_dir


class ClaimRefused(BaseException):
    """The run dir is another run's. A BaseException, because Hydra turns an Exception raised in a
    callback into a warning and runs the job anyway; `startup.launch` reports it and exits 2."""

    def __init__(self, error: run_dir.RunDirTaken) -> None:
        super().__init__(str(error))
        self.error = error


class RunDirClaim(Callback):
    def __init__(self) -> None:
        self._claimed: list[Path] = []

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if distributed.launched_rank() != 0:
            return
        path = Path(str(config.hydra.run.dir))
        overwrite = bool(OmegaConf.select(config, "output.overwrite", default=False))
        try:
            run_dir.claim(path, overwrite=overwrite, resuming=config.get("resume") is not None)
        except run_dir.RunDirTaken as err:
            raise ClaimRefused(err) from None
        self._claimed.append(path)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        while self._claimed:
            run_dir.release(self._claimed.pop())
