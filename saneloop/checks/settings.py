"""Settings every gate has: it can be turned off, or waived with a written reason."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class GateSettings:
    # false: the gate does not run at all (the report lists it as skipped).
    enabled: bool = True
    # A written reason: the gate runs and reports, but a failure does not halt the run.
    waive: Optional[str] = None
