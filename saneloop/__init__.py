"""saneloop: a PyTorch training loop that runs Karpathy's recipe by construction.

    import saneloop
    result = saneloop.run("classify")                                      # a built-in recipe
    result = saneloop.run(model=net, data=(train, test), task="classify")  # your own objects

`saneloop.run`, `saneloop.RunResult` and `saneloop.Verdict` are loaded on first use (PEP 562), so
`import saneloop` imports no torch: `saneloop --help` answers at once, and importing
`saneloop.checks` for a unit test loads only the checks.
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .checks.base.verdict import Verdict
    from .runner import RunResult, run


def __getattr__(name: str) -> Any:
    if name in ("run", "RunResult"):
        from . import runner

        return getattr(runner, name)
    if name == "Verdict":
        from .checks.base.verdict import Verdict

        return Verdict
    raise AttributeError(f"module 'saneloop' has no attribute {name!r}")
