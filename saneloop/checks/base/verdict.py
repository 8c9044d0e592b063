"""The one thing every check returns: a verdict with what was measured and what was expected."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Optional, Protocol, Union

Status = Literal["passed", "failed", "waived", "skipped"]
LABEL = {"passed": "PASS", "failed": "FAIL", "waived": "WAIVED", "skipped": "skip"}  # how people see a status
NEAR_MISS = 0.2  # a pass whose margin is below this (within 20% of failing) is shown as a near miss
_SHOWN, _LONG_TEXT = 8, 300  # a repr shows sequences up to 8 items in full, texts up to 300 characters


@dataclass(frozen=True, repr=False)
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

    def __repr__(self) -> str:
        """Short however much a gate measured (a notebook prints it): long lists and tensors summarised
        (count, min, max, the first few); `details` itself keeps every value."""
        return (
            f"Verdict(gate={self.gate!r}, status={self.status!r}, value={_summary(self.value)}, "
            f"expected={_summary(self.expected)}, margin={self.margin!r}, message={self.message!r}, "
            f"details={_summary(self.details, keys=len(self.details))})"
        )

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


def _summary(value: Any, keys: int = _SHOWN) -> str:
    """A value's repr, or for a long sequence or tensor: its first few items, length and range (dicts: the
    first `keys` entries, each summarised)."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):  # a tensor or an array, without importing either
        if len(shape) == 0 or math.prod(shape) <= _SHOWN:
            return repr(value.tolist())
        return f"<tensor {list(shape)} {value.dtype}{_range(value.reshape(-1).tolist())}>"
    if isinstance(value, (list, tuple)) and len(value) > _SHOWN:
        first = ", ".join(_summary(v) for v in value[:3])
        return f"[{first}, ... ({len(value)} items{_range(value)})]"
    if isinstance(value, (list, tuple)):
        shown = [_summary(v) for v in value]
        return f"[{', '.join(shown)}]" if isinstance(value, list) else f"({', '.join(shown)}{',' * (len(value) == 1)})"
    if isinstance(value, dict):
        shown = ", ".join(f"{k!r}: {_summary(v)}" for k, v in list(value.items())[:keys])
        return f"{{{shown}{f', ... ({len(value)} keys)' if len(value) > keys else ''}}}"
    text = repr(value)
    return text if len(text) <= _LONG_TEXT else text[: _LONG_TEXT - 4] + "...'"


def _range(values: Any) -> str:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return f", min {min(numbers):.4g}, max {max(numbers):.4g}" if numbers else ""


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
