"""`saneloop +recipe=NAME [overrides]` (or `python -m saneloop ...`): a thin layer over the Python API.

Hydra composes the config (and runs sweeps, launchers and its own flags); each job is handed to
`saneloop.runner.run_config`, the same function `saneloop.run()` calls (`job.py`). Commands that run
nothing (`--help`, `ls`, `cp`, no recipe) are answered before Hydra, torch or any gate is imported.
"""

from __future__ import annotations

import sys
from typing import Optional

from . import commands


def main(argv: Optional[list[str]] = None) -> None:
    argv = commands.as_run(list(sys.argv[1:] if argv is None else argv))  # `check ...`: a diagnosing run
    answered = commands.answered(argv)
    if answered is not None:
        sys.exit(answered)
    from . import job  # Hydra, torch and the pipeline: only for a command that runs something

    sys.exit(job.run(argv))
