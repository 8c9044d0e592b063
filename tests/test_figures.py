"""The pictures: the default run writes the five figures, logs them to TensorBoard, links them in
report.md; every kind of task view can be drawn; a figure that fails never ends a run."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from saneloop.record import figures
from saneloop.record.run_record import RunRecord
from saneloop.tasks.views import ImageView, PredictionView, TableView, TextView

FIGURES = {
    "loss": "loss_decreases",
    "batch": "loss_decreases",
    "dynamics": "loss_decreases",
    "overfit": "overfit",
    "dependency": "batch_independence",
}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_default_run_writes_the_five_figures(default_run, name):
    _, report, run_dir = default_run
    path = run_dir / "figures" / f"{name}.png"
    width, height = png_size(path)
    assert width >= 300 and height >= 200 and path.stat().st_size > 10_000
    assert f"figures/{name}.png" in report["figures"][FIGURES[name]]


def test_report_md_links_each_figure_beside_its_gate(default_run):
    markdown = (default_run[2] / "report.md").read_text()
    for name, gate_name in FIGURES.items():
        row = next(line for line in markdown.splitlines() if line.startswith("| ") and f"| {gate_name} |" in line)
        assert f"[figure](figures/{name}.png)" in row
    assert "## Figures" in markdown


def test_tensorboard_holds_the_images_and_scalars(default_run):
    events = EventAccumulator(str(default_run[2] / "tensorboard"), size_guidance={"images": 0}).Reload()
    images = set(events.Tags()["images"])
    assert {f"figures/{name}" for name in FIGURES} <= images
    steps = [e.step for e in events.Images("fixed_batch/predictions")]
    assert steps[0] == 0 and len(steps) >= 5 and steps == sorted(steps)  # predictions over training
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "fixed_batch/loss", "gates/input_independent/value", "gates/capacity/passed"} <= scalars


@pytest.mark.parametrize(
    "view",
    [
        ImageView(np.random.rand(5, 6, 6, 3), [f"y={k}" for k in range(5)]),
        TextView(["hello world", "to be or not\tto be"]),
        TableView(["a", "b", "target"], [[0.1, 2.0, 1.0], [0.3, -1.0, 0.0]]),
    ],
    ids=["rgb", "text", "table"],
)
def test_every_batch_view_draws(view):
    assert figures.rgb(figures.batch_figure(view)).shape[2] == 3


@pytest.mark.parametrize(
    "kind,targets,predictions", [("values", [0.1, 0.5, 0.9], [0.2, 0.4, 1.0]), ("text", ["abc", "de"], ["abd", "dd"])]
)
def test_every_prediction_view_draws(kind, targets, predictions):
    views = [PredictionView(kind, targets, predictions)] * 3
    assert figures.rgb(figures.predictions_figure(views[0], "t")).size
    assert figures.rgb(figures.dynamics_figure([0, 1, 2], views)).size


def test_a_figure_that_fails_is_a_note_not_a_crash(tmp_path):
    record = RunRecord(tmp_path, "classify", main=False)
    record.main = True  # as on the main process, without a TensorBoard writer
    report = record.report
    record.publish("overfit", "broken", lambda: 1 / 0)
    record.finish_figures()  # figures are drawn in the background: their outcome is known at the end
    assert report.notes and "figure broken not drawn: ZeroDivisionError" in report.notes[0]
    assert report.figures == {}


def test_loss_curve_has_the_validation_loss_at_init_and_at_each_evaluation(default_run):
    """figures/loss.png's points: the full validation loss (never the test set's: issue 23) at step 0 and
    at 4 steps spread over the run."""
    events = EventAccumulator(str(default_run[2] / "tensorboard")).Reload()
    assert "eval/loss" not in events.Tags()["scalars"]
    points = events.Scalars("val/loss")
    steps = [p.step for p in points]
    total = len(events.Scalars("train/loss")) * 10  # train/loss is logged every 10 steps
    assert steps[0] == 0 and len(steps) == 5 and steps[-1] == total
    assert abs(points[0].value - 2.30) < 0.05 and points[-1].value < 0.3  # log 10 at init, far lower at the end


def test_figures_are_drawn_in_the_background_without_stalling_the_run(tmp_path):
    """Many large figures (answers and jobs well past a pipe's buffer) are handed off at once, partials
    to one drawing child and a lambda to its own; every one arrives, in order, as a PNG."""
    import time
    from functools import partial

    from saneloop.record.drawing import Drawer, background_allowed

    if not background_allowed():
        pytest.skip("figures are drawn in this process here")
    view = ImageView(np.random.rand(64, 32, 32), [f"y={k}" for k in range(64)])  # ~0.5 MB per job
    drawer = Drawer()
    start = time.perf_counter()
    for key in range(12):
        assert drawer.submit(key, partial(figures.batch_figure, view), tmp_path / f"{key}.png") is None
    assert drawer.submit(12, lambda: figures.batch_figure(view), tmp_path / "12.png") is None
    assert time.perf_counter() - start < 2.0  # handed off, not drawn here
    done = drawer.collect()
    assert [d.key for d in done] == list(range(13)) and all(d.error is None for d in done)
    assert all(png_size(d.path) == (d.width, d.height) for d in done)
