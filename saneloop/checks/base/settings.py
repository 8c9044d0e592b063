"""Settings every gate has (it can be turned off, or waived with a written reason), and `bounded`, which
states the range a setting may take so a bad value is refused before the first gate runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


def bounded(
    default: Any,
    low: Optional[float] = None,
    high: Optional[float] = None,
    *,
    above: bool = False,
    choices: Optional[tuple[Any, ...]] = None,
) -> Any:
    """A dataclass field whose value must be >= `low` (> `low` when `above`), <= `high`, or one of
    `choices`; None passes when the field is Optional. Checked by `saneloop.config.settings`."""
    return field(default=default, metadata={"low": low, "high": high, "above": above, "choices": choices})


def problem(value: Any, metadata: Any) -> Optional[str]:
    """Why `value` breaks the range in a `bounded` field's metadata, or None."""
    if value is None or not metadata:
        return None
    choices, low, high = metadata.get("choices"), metadata.get("low"), metadata.get("high")
    if choices is not None and value not in choices:
        return f"must be one of {list(choices)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if low is not None and (value <= low if metadata.get("above") else value < low):
        return f"must be {'>' if metadata.get('above') else '>='} {low}"
    if high is not None and value > high:
        return f"must be <= {high}"
    return None


@dataclass
class GateSettings:
    # false: the gate does not run at all (the report lists it as skipped).
    enabled: bool = True
    # A written reason: the gate runs and reports, but a failure does not halt the run.
    waive: Optional[str] = None
