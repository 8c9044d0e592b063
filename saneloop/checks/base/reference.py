"""The gate reference people read (README, `saneloop gates`), written from the declarations alone."""

from __future__ import annotations

from dataclasses import fields

from .gate import CONDITIONS, Gate
from .registry import GATES

START, END = "<!-- gate reference: saneloop gates --markdown -->", "<!-- end of gate reference -->"


def markdown(gates: tuple[Gate, ...] = GATES) -> str:
    """One row per gate, in the order a run meets them, between the markers the README keeps."""
    rows = [
        "| gate | stage (when) | what it checks | applies to | settings (defaults) |",
        "|---|---|---|---|---|",
        *(_row(gate) for gate in gates),
    ]
    return "\n".join([START, *rows, END])


def _row(gate: Gate) -> str:
    when = f"{gate.stage} ({gate.event})" if gate.event else gate.stage
    what = gate.what + ("" if gate.halts else "; a report, never halts")
    if gate.figures:
        what += "; draws " + ", ".join(f"`{name}.png`" for name in gate.figures)
    applies = "; ".join(CONDITIONS[c] for c in gate.applies) or "every run"
    return f"| `{gate.name}` | {when} | {what} | {applies} | {_settings(gate)} |"


def _settings(gate: Gate) -> str:
    own = [f for f in fields(gate.settings) if f.name not in ("enabled", "waive")]
    return ", ".join(f"`{f.name}`={_default(f)}" for f in own) or "-"


def _default(field) -> str:
    value = field.default_factory() if callable(field.default_factory) else field.default  # type: ignore[misc]
    return str(value).replace("|", "\\|")


def plain(gates: tuple[Gate, ...] = GATES) -> str:
    """The terminal's version: a line per gate, grouped by stage."""
    lines, stage = [], ""
    for gate in gates:
        if gate.stage != stage:
            stage = gate.stage
            lines.append(f"{stage}:")
        lines.append(f"  {gate.name:<28} {gate.what}")
    return "\n".join(lines)
