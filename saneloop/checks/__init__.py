"""Checks: small functions from a model and data (or measurements) to a `Verdict`.

They log nothing and raise nothing; the pipeline records, reduces across processes and halts.
Each is usable on its own in a user's tests, on the user's own model and data, without Hydra:
the measurement goes with the check (a copy of the model is probed or trained, never the model).

Every gate is declared once, in its module (`GATE = Gate(...)`); what this package exports is derived
from those declarations: each gate's check functions and its settings class (e.g. `overfit_batch`,
`OverfitSettings`), in the order a run meets the gates.
"""

from .base.gate import Gate
from .base.registry import GATES, exports
from .base.settings import GateSettings
from .base.verdict import Verdict

_EXPORTS = exports()
globals().update(_EXPORTS)

__all__ = ["Gate", "GATES", "GateSettings", "Verdict", *_EXPORTS]
