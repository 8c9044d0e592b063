"""Everything a run writes for people and machines, behind one object the stages hand findings to.

report.json/report.md, TensorBoard and the terminal are written by the main process only; figures
are drawn there too. A figure that fails to draw becomes a note, never a failed run: pictures are
for people, the gates decide the run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from ..checks.verdict import Verdict
from .console import Terminal
from .figures import rgb
from .report import Report
from .tracking import Tracker

FIGURES_DIR = "figures"


class RunRecord:
    def __init__(self, run_dir: Path, recipe: str, main: bool, figures: bool = True) -> None:
        self.run_dir, self.main, self.figures = run_dir, main, figures
        self.report = Report(run_dir, recipe)
        self.terminal = Terminal(enabled=main)
        self.tracker = Tracker(run_dir / "tensorboard", enabled=main)

    def verdict(self, stage: str, verdict: Verdict, seconds: Optional[float] = None) -> None:
        """One gate's verdict: into the report, TensorBoard and the terminal."""
        self.report.record(verdict, seconds)
        self.tracker.gate(verdict)
        self.terminal.verdict(stage, verdict)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.tracker.scalar(tag, value, step)

    def note(self, text: str) -> None:
        self.report.notes.append(text)

    def publish(self, gate: str, name: str, draw: Callable[[], Any], step: int = 0) -> None:
        """Draw (main process only, when figures are on); write `figures/<name>.png`, log it to
        TensorBoard as `figures/<name>`, and link it in the report beside `gate`."""
        if not (self.main and self.figures):
            return
        try:
            from matplotlib.image import imsave

            pixels = rgb(draw())  # drawn once, for both the PNG and TensorBoard
            path = self.run_dir / FIGURES_DIR / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            imsave(path, pixels)
            self.tracker.image(f"figures/{name}", pixels, step)
            self.report.add_figure(gate, f"{FIGURES_DIR}/{name}.png")
        except Exception as err:  # noqa: BLE001 - a broken figure must not end a run
            self.note(f"figure {name} not drawn: {type(err).__name__}: {err}")

    def image(self, tag: str, draw: Callable[[], Any], step: int) -> None:
        """A TensorBoard image only (e.g. one step of the prediction dynamics)."""
        if not (self.main and self.figures):
            return
        try:
            self.tracker.image(tag, rgb(draw()), step)
        except Exception as err:  # noqa: BLE001
            self.note(f"image {tag} at step {step} not drawn: {type(err).__name__}: {err}")

    def close(self) -> None:
        self.tracker.close()
