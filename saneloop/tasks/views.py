"""What a batch or a prediction looks like to a person: the task decodes, `figures` draws.

A task turns tensors into one of these plain views; the figure code knows nothing of tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ImageView:
    """Images [N, H, W] (grey) or [N, H, W, 3] (RGB) with one caption each (e.g. the label)."""

    images: np.ndarray
    captions: list[str]


@dataclass
class TextView:
    """One line of decoded text per sample (e.g. input tokens and the target continuation)."""

    lines: list[str]


@dataclass
class TableView:
    """Tabular rows with named columns (e.g. the features of a regression sample and its target)."""

    columns: list[str]
    rows: list[list[float]]


BatchView = ImageView | TextView | TableView


@dataclass
class PredictionView:
    """Targets against predictions, for the overfit plot and the prediction-dynamics figure.

    `kind` "classes": integers, with `labels` naming them; "values": real numbers (regression,
    probabilities); "text": strings (samples from a language model).
    """

    kind: str
    targets: list
    predictions: list
    labels: list[str] = field(default_factory=list)
