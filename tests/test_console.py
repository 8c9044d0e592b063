"""What a run shows in a notebook: one output, updated as each gate is decided, not one output per line."""

from pathlib import Path

import IPython.display
import rich.console

from saneloop.checks.base.verdict import passed
from saneloop.record.console import Terminal
from saneloop.record.report import Report


class _Handle:
    def __init__(self, shown: list) -> None:
        self.shown = shown

    def update(self, obj) -> None:
        self.shown.append(obj)


def test_a_run_in_a_notebook_is_one_output_updated_in_place(monkeypatch):
    outputs: list[list] = []  # one list per output cell area, holding what it showed in turn

    def display(obj, *args, display_id=None, **kwargs):
        outputs.append([obj])
        return _Handle(outputs[-1]) if display_id else None

    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: True)  # what rich sees inside a Jupyter kernel
    monkeypatch.setattr(IPython.display, "display", display)
    terminal = Terminal(enabled=True)
    report = Report(Path("."), "classify")
    report.start_stage("setup")
    for k in range(20):
        verdict = passed(f"gate_{k}", k, k, f"check {k} held")
        report.record(verdict, 0.1)
        terminal.verdict("setup", verdict)
    report.end_stage(0.1)
    terminal.summary(report.to_json())
    terminal.print("[bold green]STOPPED[/] after setup")
    assert len(outputs) == 1, f"{len(outputs)} outputs"
    final = outputs[0][-1]._repr_mimebundle_(include=[], exclude=[])
    assert all(f"setup/gate_{k}: check {k} held" in final["text/plain"] for k in range(20))
    assert "STOPPED after setup" in final["text/plain"] and "gate_19" in final["text/html"]
    assert len(outputs[0]) == 22  # shown as it happened: each gate line the moment it was decided
