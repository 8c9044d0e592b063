"""Running saneloop: the pipeline (the whole story, top to bottom), the Python API and its result."""

from .api import compose_config, run, run_config
from .result import RunResult

__all__ = ["RunResult", "compose_config", "run", "run_config"]
