"""Everything a run writes for people and machines, behind one object the stages hand findings to.

report.json/report.md, TensorBoard and the terminal are written by the main process only; figures
are drawn there too, in a child process where they can be (`drawing.Drawer`): the run does not
wait for a picture until its end. A figure that fails to draw becomes a note, never a failed run:
pictures are for people, the gates decide the run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from ..checks.base.gate import Gate
from ..checks.base.verdict import Verdict
from .console import Terminal
from .drawing import Drawer, Drawn, spare_core
from .report import Report
from .tracking import Tracker

FIGURES_DIR = "figures"


class RunRecord:
    def __init__(self, run_dir: Path, recipe: str, main: bool, figures: bool = True) -> None:
        self.run_dir, self.main, self.figures = run_dir, main, figures
        self.report = Report(run_dir, recipe)
        self.terminal = Terminal(enabled=main)
        self.tracker = Tracker(run_dir / "tensorboard", enabled=main)
        self.drawer = Drawer(background=spare_core())
        self._pending: dict[int, tuple[Optional[str], str, str, int]] = {}  # key -> (gate, name, tag, step)
        self._scratch: Optional[Path] = None  # where TensorBoard-only images are drawn to, then read back

    def verdict(self, stage: str, verdict: Verdict, seconds: Optional[float] = None, finding: bool = False) -> None:
        """One gate's verdict: into the report, TensorBoard and the terminal. `finding`: a model probe run
        after a data gate halted the run, reported beside the halt (its failure does not halt)."""
        self.report.record(verdict, seconds, finding)
        self.tracker.gate(verdict)
        self.terminal.verdict(stage, verdict, finding)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.tracker.scalar(tag, value, step)

    def note(self, text: str) -> None:
        self.report.notes.append(text)

    def publish(self, gate: Gate | str, name: str, draw: Callable[[], Any], step: int = 0) -> None:
        """Draw (main process only, when figures are on); write `figures/<name>.png`, log it to
        TensorBoard as `figures/<name>`, and link it in the report beside `gate`. `draw` returns a
        matplotlib figure; a `functools.partial` of a module-level function is drawn in the
        background (`drawing.Drawer`), anything else here and now."""
        gate = str(gate)  # a declaration reads as its name
        if self.main and self.figures:
            self.report.add_figure(gate, f"{FIGURES_DIR}/{name}.png")  # taken back if it cannot be drawn
            self._submit((gate, name, f"figures/{name}", step), draw, self.run_dir / FIGURES_DIR / f"{name}.png")

    def image(self, tag: str, draw: Callable[[], Any], step: int) -> None:
        """A TensorBoard image only (e.g. one step of the prediction dynamics)."""
        if self.main and self.figures:
            if self._scratch is None:
                self._scratch = Path(tempfile.mkdtemp(prefix="saneloop-images-"))
            self._submit((None, tag, tag, step), draw, self._scratch / f"{len(self._pending) + 1}.png")

    def finish_figures(self) -> None:
        """Wait for the figures drawn in the background and log them (before the report is written)."""
        for drawn in self.drawer.collect():
            self._logged(drawn)

    def close(self) -> None:
        self.finish_figures()
        self.tracker.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _submit(self, what: tuple[Optional[str], str, str, int], draw: Callable[[], Any], path: Path) -> None:
        key = len(self._pending) + 1
        self._pending[key] = what
        drawn = self.drawer.submit(key, draw, path)
        if drawn is not None:
            self._logged(drawn)

    def _logged(self, drawn: Drawn) -> None:
        gate, name, tag, step = self._pending[drawn.key]
        if drawn.path is not None:
            self.tracker.png(tag, drawn.path.read_bytes(), drawn.height, drawn.width, step)
            if gate is None:
                drawn.path.unlink(missing_ok=True)
        elif gate is None:
            self.note(f"image {tag} at step {step} not drawn: {drawn.error}")
        else:
            self.report.remove_figure(gate, f"{FIGURES_DIR}/{name}.png")
            self.note(f"figure {name} not drawn: {drawn.error}")
