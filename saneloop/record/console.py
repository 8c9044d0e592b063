"""What the terminal shows: one line per gate as it is decided, and a verdict table at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ..checks.base.verdict import LABEL, Verdict
from .report import margin_text, verdict_label

STYLE = {"passed": "green", "failed": "bold red", "waived": "yellow", "skipped": "dim"}


class Terminal:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.console = Console(highlight=False, soft_wrap=True)

    def print(self, text: str) -> None:
        if self.enabled:
            self.console.print(text)

    def verdict(self, stage: str, verdict: Verdict) -> None:
        style = "yellow" if verdict.near_miss else STYLE[verdict.status]
        near = f" [yellow](near miss: {margin_text(verdict.margin)} from its threshold)[/]" if verdict.near_miss else ""
        self.print(f"[{style}]{LABEL[verdict.status]:>6}[/] {stage}/{verdict.gate}: {_escape(verdict.message)}{near}")

    def summary(self, report: dict[str, Any]) -> None:
        if not self.enabled:
            return
        table = Table(title=f"saneloop: {report['recipe']} - {report['status'].upper()}", show_lines=False)
        for column in ("stage", "gate", "verdict", "value", "expected", "margin"):
            table.add_column(column)
        for stage in report["stages"]:
            for g in stage["gates"]:
                style = "yellow" if g.get("near_miss") else STYLE[g["status"]]
                table.add_row(
                    stage["name"],
                    g["name"],
                    f"[{style}]{verdict_label(g)}[/]",
                    _escape(_short(g["value"])),
                    _escape(_short(g["expected"])),
                    margin_text(g.get("margin")),
                )
        self.console.print(table)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
