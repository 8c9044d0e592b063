"""Pictures for people: the exact batch entering the net (tip 10), the overfit batch and the
prediction dynamics on a fixed validation batch (tips 8 and 11), the dependency map of the backprop
checks (tip 12).

Drawing works on the plain views of `tasks.views` and on matrices, never on a task, so every task
gets the same figures. matplotlib is imported only when a figure is drawn (start-up stays fast),
through its Agg canvas directly: no pyplot, no global backend, no display needed.
Writing them (PNG in the run dir, TensorBoard image, report link) is `RunRecord.publish`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tasks.views import BatchView, ImageView, PredictionView, TableView, TextView

FIGURES_DIR = "figures"
_MAX_TILES = 64  # images shown of a batch
_MAX_LINES = 32  # text lines shown of a batch
_MAX_SAMPLES = 32  # samples shown in the prediction figures


def _figure(width: float, height: float, dpi: int = 100) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def rgb(fig: Any) -> np.ndarray:
    """The figure as an [H, W, 3] uint8 array (what TensorBoard's add_image takes)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


# --- tip 10: what enters the net ----------------------------------------------------------------


def batch_figure(view: BatchView, title: str = "the first training batch, as it enters the net") -> Any:
    if isinstance(view, ImageView):
        return _image_batch(view, title)
    if isinstance(view, TextView):
        return _text_batch(view.lines, title)
    if isinstance(view, TableView):
        return _table_batch(view, title)
    raise TypeError(f"no figure for a batch view of type {type(view).__name__}")


def _stats(values: np.ndarray) -> str:
    values = np.asarray(values, dtype=np.float64)
    return (
        f"min {values.min():.3g}  max {values.max():.3g}  mean {values.mean():.3g}  std {values.std():.3g}"
        if values.size
        else "empty"
    )


def _image_batch(view: ImageView, title: str) -> Any:
    """One mosaic on one colour scale (the batch's min..max): scale bugs such as a double /255
    show as a black mosaic and a tiny max, which a per-image rescale would hide."""
    images = np.asarray(view.images, dtype=np.float32)[:_MAX_TILES]
    n, h, w = images.shape[:3]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    pad = max(1, h // 8)
    shape = (rows * (h + pad), cols * (w + pad)) + images.shape[3:]
    mosaic = np.full(shape, np.nan, dtype=np.float32)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        mosaic[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    fig = _figure(min(2 + 1.1 * cols, 14), min(1.5 + 1.2 * rows, 14))
    ax = fig.add_subplot()
    lo, hi = float(images.min()), float(images.max())
    if images.ndim == 4:  # RGB: shown as is, clipped to 0..1 (values outside show in the title)
        ax.imshow(np.nan_to_num(np.clip(mosaic, 0, 1), nan=1.0))
    else:
        shown = ax.imshow(np.ma.masked_invalid(mosaic), cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
        fig.colorbar(shown, ax=ax, shrink=0.6)
    for k, caption in enumerate(view.captions[:n]):
        r, c = divmod(k, cols)
        ax.text(
            c * (w + pad) + w / 2 - 0.5,
            r * (h + pad) + h - 0.5 + pad * 0.9,
            caption,
            ha="center",
            va="center",
            fontsize=7,
            color="tab:blue",
        )
    ax.set_axis_off()
    ax.set_title(f"{title}\n{n} of {len(view.images)} samples, {h}x{w}; {_stats(images)}", fontsize=9)
    return fig


def _text_batch(lines: Sequence[str], title: str) -> Any:
    shown = [line if len(line) <= 120 else line[:117] + "..." for line in list(lines)[:_MAX_LINES]]
    fig = _figure(12, 1 + 0.22 * max(len(shown), 1))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(
        0,
        1,
        "\n".join(f"{k:>3} {line!r}" for k, line in enumerate(shown)),
        va="top",
        ha="left",
        family="monospace",
        fontsize=8,
        transform=ax.transAxes,
    )
    ax.set_title(f"{title}\n{len(shown)} of {len(lines)} samples (repr, so whitespace shows)", fontsize=9)
    return fig


def _table_batch(view: TableView, title: str) -> Any:
    """All rows x columns as a heatmap (one colour scale): scale and ordering problems show at a glance."""
    values = np.asarray(view.rows, dtype=np.float64)[:_MAX_TILES]
    fig = _figure(min(3 + 0.25 * values.shape[1], 14), min(2 + 0.18 * len(values), 12))
    ax = fig.add_subplot()
    shown = ax.imshow(values, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(shown, ax=ax, shrink=0.7)
    if len(view.columns) <= 24:
        ax.set_xticks(range(len(view.columns)), view.columns, rotation=90, fontsize=7)
    ax.set_xlabel("column" + ("" if len(view.columns) <= 24 else f" ({view.columns[0]} .. {view.columns[-1]})"))
    ax.set_ylabel("sample")
    ax.set_title(f"{title}\n{len(values)} of {len(view.rows)} rows; {_stats(values)}", fontsize=9)
    return fig


# --- tips 8 and 11: targets against predictions ------------------------------------------------


def predictions_figure(view: PredictionView, title: str) -> Any:
    """Targets and predictions of one batch (the overfit batch, or one step of the dynamics)."""
    fig = _figure(8, 3.2)
    ax = fig.add_subplot()
    n = min(len(view.targets), _MAX_SAMPLES)
    targets, predictions = list(view.targets)[:n], list(view.predictions)[:n]
    if view.kind == "text":
        ax.set_axis_off()
        text = "\n".join(
            f"{k:>2} target {t!r:.50}\n   pred   {p!r:.50}"
            for k, (t, p) in enumerate(zip(targets[:8], predictions[:8]))
        )
        ax.text(0, 1, text, va="top", family="monospace", fontsize=7, transform=ax.transAxes)
    elif view.kind == "classes":
        right = [t == p for t, p in zip(targets, predictions)]
        ax.scatter(range(n), targets, marker="o", s=80, facecolors="none", edgecolors="black", label="target")
        ax.scatter(
            range(n),
            predictions,
            marker="x",
            s=50,
            c=["tab:green" if r else "tab:red" for r in right],
            label="prediction (red: wrong)",
        )
        if view.labels and len(view.labels) <= 30:
            ax.set_yticks(range(len(view.labels)), view.labels, fontsize=7)
        ax.set_xlabel("sample")
        ax.set_ylabel("class")
        title = f"{title}: {sum(right)} of {n} right"
        ax.legend(fontsize=7, loc="upper right")
    else:
        ax.scatter(targets, predictions, s=20)
        both = np.asarray(targets + predictions, dtype=np.float64)
        if both.size:
            ends = [both.min(), both.max()]
            ax.plot(ends, ends, "k--", linewidth=0.8, label="prediction = target")
        ax.set_xlabel("target")
        ax.set_ylabel("prediction")
        ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    return fig


def dynamics_figure(steps: Sequence[int], views: Sequence[PredictionView]) -> Any:
    """Predictions for the same fixed validation batch at every evaluation during training."""
    kind = views[0].kind if views else "values"
    if kind == "classes":
        return _class_dynamics(steps, views)
    if kind == "text":
        lines = [f"step {s:>6}: {v.predictions[0]!r}" for s, v in zip(steps, views) if v.predictions]
        return _text_batch(
            lines, f"prediction dynamics: sample 0 of the fixed validation batch (target {views[0].targets[0]!r:.60})"
        )
    fig = _figure(9, 4)
    ax = fig.add_subplot()
    n = min(len(views[0].targets), 8) if views else 0
    for k in range(n):
        (line,) = ax.plot(steps, [float(v.predictions[k]) for v in views], marker=".", linewidth=1)
        ax.axhline(float(views[0].targets[k]), color=line.get_color(), linestyle="--", linewidth=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("prediction (dashed: target)")
    ax.set_title(f"prediction dynamics: {n} samples of the fixed validation batch", fontsize=9)
    return fig


def _class_dynamics(steps: Sequence[int], views: Sequence[PredictionView]) -> Any:
    n = min(len(views[0].targets), _MAX_SAMPLES)
    right = np.array([[float(t == p) for t, p in zip(v.targets[:n], v.predictions[:n])] for v in views])
    fig = _figure(min(2.5 + 0.45 * n, 16), min(1.5 + 0.32 * (len(views) + 1), 14))
    ax = fig.add_subplot()
    ax.imshow(right, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    labels = views[0].labels
    name = lambda c: labels[c] if labels and isinstance(c, int) and 0 <= c < len(labels) else str(c)
    for r, view in enumerate(views):
        for c, p in enumerate(view.predictions[:n]):
            ax.text(c, r, name(p), ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(views)), [f"step {s}" for s in steps], fontsize=7)
    ax.set_xticks(range(n), [f"{name(t)}" for t in views[0].targets[:n]], fontsize=7)
    ax.set_xlabel("target of each sample in the fixed validation batch")
    ax.set_title(
        "prediction dynamics on a fixed validation batch (cell: predicted class; green right, red wrong)", fontsize=9
    )
    return fig


# --- tip 12: the dependency map -----------------------------------------------------------------


def dependency_figure(
    matrix: Sequence[Sequence[float]], rows: Sequence[int], row_label: str, col_label: str, title: str
) -> Any:
    """|gradient| of each tested output (row) with respect to each input (column), log scale;
    exact zeros (no dependency) are white, so a mix shows as colour where white is expected."""
    from matplotlib.colors import LogNorm

    values = np.asarray(matrix, dtype=np.float64)
    positive = values[np.isfinite(values) & (values > 0)]
    fig = _figure(min(3 + 0.3 * values.shape[1], 14), min(1.8 + 0.3 * values.shape[0], 12))
    ax = fig.add_subplot()
    if positive.size:
        norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-8), vmax=positive.max())
        shown = ax.imshow(
            np.ma.masked_where(~(values > 0), values), cmap="viridis", norm=norm, aspect="auto", interpolation="nearest"
        )
        fig.colorbar(shown, ax=ax, shrink=0.7, label="|gradient| (log)")
    ax.set_facecolor("white")
    for k, row in enumerate(rows):
        ax.add_patch(_box(row, k))
    ax.set_yticks(range(len(rows)), [str(r) for r in rows], fontsize=7)
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.set_title(title, fontsize=9)
    return fig


def _box(col: int, row: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1)


# --- the loss curve ------------------------------------------------------------------------------


def loss_curve_figure(steps: Sequence[int], train: Sequence[float], evals: Sequence[tuple[int, float, float]]) -> Any:
    """Training loss per step (and its running mean), and the full validation loss at each evaluation
    with a bar of two standard errors; a log scale when the loss falls by more than 10x."""
    fig = _figure(9, 4)
    ax = fig.add_subplot()
    values = np.asarray(train, dtype=np.float64)
    ax.plot(steps, values, color="tab:blue", alpha=0.3, linewidth=0.8, label="train loss (each step)")
    width = max(1, len(values) // 50)
    if len(values) > width:
        smooth = np.convolve(values, np.ones(width) / width, mode="valid")
        ax.plot(steps[width - 1 :], smooth, color="tab:blue", linewidth=1.5, label=f"train loss (mean of {width})")
    if evals:
        at, mean, se = (np.asarray(v, dtype=np.float64) for v in zip(*evals))
        ax.errorbar(
            at,
            mean,
            yerr=2 * np.nan_to_num(se),
            fmt="o-",
            color="tab:red",
            capsize=3,
            label="validation loss, full set (± 2 se)",
        )
    finite = values[np.isfinite(values) & (values > 0)]
    if finite.size and finite.max() > 10 * finite.min():
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)
    ax.set_title("loss curves: training at every step, the whole validation set at each evaluation", fontsize=9)
    return fig
