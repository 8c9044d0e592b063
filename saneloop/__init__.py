"""saneloop: a PyTorch training loop that runs Karpathy's recipe by construction."""
from .checks.verdict import Verdict
from .errors import EXIT_CRASH, EXIT_HALTED, EXIT_INPUT_ERROR, EXIT_PASSED, GateHalt, InputError

__all__ = ["EXIT_CRASH", "EXIT_HALTED", "EXIT_INPUT_ERROR", "EXIT_PASSED", "GateHalt", "InputError", "Verdict"]
__version__ = "0.1.0"
