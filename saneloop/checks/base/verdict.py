"""The one thing every check returns: a verdict with what was measured and what was expected."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Optional, Protocol, Union

Status = Literal["passed", "failed", "waived", "skipped"]
LABEL = {"passed": "PASS", "failed": "FAIL", "waived": "WAIVED", "skipped": "skip"}  # how people see a status
NEAR_MISS = 0.2  # a pass whose margin is below this (within 20% of failing) is shown as a near miss


@dataclass(frozen=True)
class Verdict:
    """Outcome of one gate.

    A check builds it and returns it; it never raises or logs. The pipeline decides what a
    failed verdict means (halt, or record a waiver) and where it is written.

    `margin`: how far the measurement was from the gate's threshold, as a fraction of it (0: on the
    threshold, 1: a whole threshold away; negative when it failed). None for a gate that checks an
    exact property (a count that must be 0, outputs that must be identical).
    """

    gate: str
    passed: bool
    value: Any
    expected: Any
    message: str
    tip: str = ""
    status: Status = "passed"
    details: dict[str, Any] = field(default_factory=dict)
    margin: Optional[float] = None

    @property
    def near_miss(self) -> bool:
        """Passed, but within 20% of failing."""
        return self.status == "passed" and self.margin is not None and self.margin < NEAR_MISS

    def __post_init__(self) -> None:
        if not isinstance(self.gate, str):  # checks build verdicts from their declaration; the record keeps its name
            object.__setattr__(self, "gate", self.gate.name)
        if self.status == "passed" and not self.passed:
            object.__setattr__(self, "status", "failed")

    def waived(self, reason: str) -> Verdict:
        """The same finding, recorded as waived by the user with a reason."""
        return replace(self, status="waived", message=f"{self.message} [WAIVED: {reason}]")

    def to_json(self) -> dict[str, Any]:
        """A plain dict (the gate as `name`); `details` is kept as is, not copied."""
        return {
            "name": self.gate,
            "passed": self.passed,
            "value": self.value,
            "expected": self.expected,
            "message": self.message,
            "tip": self.tip,
            "status": self.status,
            "margin": None if self.margin is None else round(self.margin, 4),
            "near_miss": self.near_miss,
            "details": self.details,
        }


class Named(Protocol):
    name: str


GateName = Union[str, Named]  # a gate's declaration (`checks.base.gate.Gate`), or its name


def passed(
    gate: GateName,
    value: Any,
    expected: Any,
    message: str,
    tip: str = "",
    *,
    margin: Optional[float] = None,
    **details: Any,
) -> Verdict:
    return Verdict(gate, True, value, expected, message, tip, "passed", dict(details), margin)


def failed(
    gate: GateName,
    value: Any,
    expected: Any,
    message: str,
    tip: str = "",
    *,
    margin: Optional[float] = None,
    **details: Any,
) -> Verdict:
    return Verdict(gate, False, value, expected, message, tip, "failed", dict(details), margin)


def relative_margin(value: float, threshold: float, below: bool = True) -> Optional[float]:
    """(threshold - value) / |threshold| for a gate that wants `value` below `threshold` (`below`), or
    (value - threshold) / |threshold| for one that wants it above; None when it cannot be said."""
    if math.isnan(value) or math.isnan(threshold) or threshold == 0 or math.isinf(threshold):
        return None
    if math.isinf(value):
        return -math.inf if (value > 0) == below else math.inf
    return ((threshold - value) if below else (value - threshold)) / abs(threshold)


def skipped(gate: GateName, why: str, tip: str = "") -> Verdict:
    return Verdict(gate, True, None, None, why, tip, "skipped")
