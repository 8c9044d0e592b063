"""What the terminal shows: one line per gate as it is decided, and a verdict table at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ..checks.verdict import LABEL, Verdict

STYLE = {"passed": "green", "failed": "bold red", "waived": "yellow", "skipped": "dim"}


class Terminal:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.console = Console(highlight=False, soft_wrap=True)

    def print(self, text: str) -> None:
        if self.enabled:
            self.console.print(text)

    def verdict(self, stage: str, verdict: Verdict) -> None:
        style = STYLE[verdict.status]
        self.print(f"[{style}]{LABEL[verdict.status]:>6}[/] {stage}/{verdict.gate}: {_escape(verdict.message)}")

    def summary(self, report: dict[str, Any]) -> None:
        if not self.enabled:
            return
        table = Table(title=f"saneloop: {report['recipe']} - {report['status'].upper()}", show_lines=False)
        for column in ("stage", "gate", "verdict", "value", "expected"):
            table.add_column(column)
        for stage in report["stages"]:
            for g in stage["gates"]:
                table.add_row(
                    stage["name"],
                    g["name"],
                    f"[{STYLE[g['status']]}]{LABEL[g['status']]}[/]",
                    _escape(_short(g["value"])),
                    _escape(_short(g["expected"])),
                )
        self.console.print(table)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
