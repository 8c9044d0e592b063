"""saneloop: a PyTorch training loop that runs Karpathy's recipe by construction.

    import saneloop
    result = saneloop.run("classify")                                      # a built-in recipe
    result = saneloop.run(model=net, data=(train, test), task="classify")  # your own objects

`saneloop.run` and `saneloop.RunResult` load Hydra and Accelerate on first use, so importing
`saneloop.checks` for a unit test stays light.
"""

from typing import Any

from .checks.base.verdict import Verdict
from .errors import (
    EXIT_CRASH,
    EXIT_HALTED,
    EXIT_INPUT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_PASSED,
    GateHalt,
    InputError,
    Interrupted,
)

__all__ = [
    "EXIT_CRASH",
    "EXIT_HALTED",
    "EXIT_INPUT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_PASSED",
    "GateHalt",
    "InputError",
    "Interrupted",
    "RunResult",
    "Verdict",
    "run",
]
__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    if name in ("run", "RunResult"):
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'saneloop' has no attribute {name!r}")
