"""Gate `augmentation_off`: with augmentation off, reading the same item twice gives the same tensors.

The recipe starts with augmentation off, so every gate before training judges the data and the
model, not the noise added to them. A random transform hidden in a dataset (or an eval transform
copied from the training one) breaks that silently. Augmentation belongs in the `augment` config
group, which only the train stage applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed
from .measure.probing import spread

TIP = "tip 2: augmentation off (until the model is known to work)"


@dataclass
class AugmentationOffSettings(GateSettings):
    items: int = bounded(8, low=1)  # items of each split read twice, spread over the split


def items_repeat(
    datasets: Mapping[str, Any],
    items: int = 8,
    read: Optional[Callable[[str, Any, Sequence[int]], list[Any]]] = None,
) -> Verdict:
    """Read `items` items of each dataset twice; name the indices whose two reads differ.

    `read(split, dataset, indices)`: how a run reads items (through its loader's workers); by
    default `dataset[i]`. Usable on its own: `items_repeat({"train": train_set}).passed`.
    """
    differ: dict[str, list[int]] = {}
    checked = 0
    for split, dataset in datasets.items():
        indices = spread(len(dataset), items)
        checked += len(indices)
        first, second = (read(split, dataset, indices) if read else [dataset[i] for i in indices] for _ in (1, 2))
        bad = [i for i, a, b in zip(indices, first, second) if not same(a, b)]
        if bad:
            differ[split] = bad
    if not differ:
        return passed(GATE, 0, 0, f"{checked} items read twice ({', '.join(datasets)}), identical each time", TIP)
    where = "; ".join(f"{split} items {idx}" for split, idx in differ.items())
    return failed(
        GATE,
        sum(len(v) for v in differ.values()),
        0,
        f"reading the same item twice gave different data ({where}): a random transform is on while "
        "augmentation is off. Likely causes: a random crop/flip/noise in the dataset's __getitem__, "
        "the training transform reused for the test set, an unseeded sampler inside the dataset. Move "
        "augmentation to the `augment` config group (e.g. augment=shift), which only the train stage "
        "applies. <augment=none>",
        TIP,
        differ=differ,
    )


def same(a: Any, b: Any) -> bool:
    """Equal bit for bit, through tuples, lists and dicts of tensors, arrays and plain values."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(((a == b) | (a != a) & (b != b)).all())
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


GATE = Gate(
    name="augmentation_off",
    stage="setup",
    settings=AugmentationOffSettings,
    tip=TIP,
    what="an item read twice is identical (no random transform before the train stage)",
    checks=(items_repeat,),
    after=("inputs_finite",),
)
