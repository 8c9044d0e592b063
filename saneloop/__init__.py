"""saneloop: a PyTorch training loop that runs Karpathy's recipe by construction."""
from .checks.verdict import Verdict
from .errors import (EXIT_CRASH, EXIT_HALTED, EXIT_INPUT_ERROR, EXIT_INTERRUPTED, EXIT_PASSED, GateHalt, InputError,
                     Interrupted)

__all__ = ["EXIT_CRASH", "EXIT_HALTED", "EXIT_INPUT_ERROR", "EXIT_INTERRUPTED", "EXIT_PASSED", "GateHalt", "InputError",
           "Interrupted", "Verdict"]
__version__ = "0.1.0"
