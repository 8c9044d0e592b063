"""The one thing every check returns: a verdict with what was measured and what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Status = Literal["passed", "failed", "waived", "skipped"]
LABEL = {"passed": "PASS", "failed": "FAIL", "waived": "WAIVED", "skipped": "skip"}  # how people see a status


@dataclass(frozen=True)
class Verdict:
    """Outcome of one gate.

    A check builds it and returns it; it never raises or logs. The pipeline decides what a
    failed verdict means (halt, or record a waiver) and where it is written.
    """

    gate: str
    passed: bool
    value: Any
    expected: Any
    message: str
    tip: str = ""
    status: Status = "passed"
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
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
            "details": self.details,
        }


def passed(gate: str, value: Any, expected: Any, message: str, tip: str = "", **details: Any) -> Verdict:
    return Verdict(gate, True, value, expected, message, tip, "passed", dict(details))


def failed(gate: str, value: Any, expected: Any, message: str, tip: str = "", **details: Any) -> Verdict:
    return Verdict(gate, False, value, expected, message, tip, "failed", dict(details))


def skipped(gate: str, why: str, tip: str = "") -> Verdict:
    return Verdict(gate, True, None, None, why, tip, "skipped")
