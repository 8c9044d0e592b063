"""What the terminal shows: one line per gate as it is decided, and a verdict table at the end.

In a notebook, rich shows each print as an output of its own (a run made 39 of them): there a run's
lines go to one output instead, updated in place as each gate is decided.
"""

from __future__ import annotations

import io
from typing import Any, Optional

from rich.console import Console, RenderableType
from rich.jupyter import JUPYTER_HTML_FORMAT, JupyterRenderable
from rich.table import Table

from ..checks.base.verdict import LABEL, Verdict
from .report import margin_text, verdict_label

STYLE = {"passed": "green", "failed": "bold red", "waived": "yellow", "skipped": "dim"}


class Terminal:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.console = Console(highlight=False, soft_wrap=True)
        self.cell = NotebookOutput(self.console.width) if self.console.is_jupyter else None

    def print(self, text: RenderableType) -> None:
        if not self.enabled:
            return
        if self.cell is not None:
            self.cell.show(text)
        else:
            self.console.print(text)

    def verdict(self, stage: str, verdict: Verdict, finding: bool = False) -> None:
        inconclusive = bool(verdict.details.get("inconclusive"))
        style = "yellow" if verdict.near_miss or inconclusive else STYLE[verdict.status]
        near = f" [yellow](near miss: {margin_text(verdict.margin)} from its threshold)[/]" if verdict.near_miss else ""
        label = f"{LABEL[verdict.status]} (inconclusive)" if inconclusive else LABEL[verdict.status]
        aside = " [dim](finding: a model probe run after the data halt; it does not halt)[/]" if finding else ""
        self.print(f"[{style}]{label:>6}[/] {stage}/{verdict.gate}: {_escape(verdict.message)}{near}{aside}")

    def failures(self, failures: list[dict[str, Any]]) -> None:
        """Every failure at once, below the halt line: the data's and the model's, or all a `continue` run met."""
        if len(failures) < 2:
            return
        self.print(f"[bold red]{len(failures)} gates failed[/] (report.md, Failures):")
        for f in failures:
            kind = "halted" if f["halted"] else "finding" if f["finding"] else "failed"
            self.print(f"  [bold red]FAIL[/] {f['stage']}/{f['gate']} ({kind}): {_escape(_short(f['message'], 160))}")

    def summary(self, report: dict[str, Any]) -> None:
        if not self.enabled:
            return
        table = Table(title=f"saneloop: {report['recipe']} - {report['status'].upper()}", show_lines=False)
        for column in ("stage", "gate", "verdict", "value", "expected", "margin"):
            table.add_column(column)
        for stage in report["stages"]:
            for g in stage["gates"]:
                style = "yellow" if g.get("near_miss") or g.get("inconclusive") else STYLE[g["status"]]
                table.add_row(
                    stage["name"],
                    g["name"],
                    f"[{style}]{verdict_label(g)}[/]",
                    _escape(_short(g["value"])),
                    _escape(_short(g["expected"])),
                    margin_text(g.get("margin")),
                )
        self.print(table)


class NotebookOutput:
    """One notebook output for a whole run: what is printed is recorded, and the output shows it all."""

    def __init__(self, width: int) -> None:
        self.console = Console(
            record=True,
            file=io.StringIO(),  # the record is what is shown; nothing is written anywhere else
            width=width,
            highlight=False,
            soft_wrap=True,
            force_jupyter=False,
            force_terminal=True,
            color_system="truecolor",
        )
        self.handle: Optional[Any] = None

    def show(self, renderable: RenderableType) -> None:
        self.console.print(renderable)
        html = self.console.export_html(clear=False, inline_styles=True, code_format=JUPYTER_HTML_FORMAT)
        view = JupyterRenderable(html, self.console.export_text(clear=False))
        if self.handle is not None:
            self.handle.update(view)
            return
        from IPython.display import display  # there is a notebook, so there is IPython

        self.handle = display(view, display_id=True)


def _short(value: Any, width: int = 40) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
