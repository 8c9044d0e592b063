"""What a reader keeps of a chunk of items: their targets, their NaN/Inf rows and their input shape, never
the inputs. A `Digest` checks items as the dataset returns them; a `CollatedDigest` checks them as the run's
collate makes them (a padding collator that makes the labels, DataCollatorForLanguageModeling; one that
tokenizes), so targets of different lengths come out padded with the ignore index, which counts nowhere.
Both are DataLoader collates, picklable for the loader's workers, read like every other digest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import torch

from ..errors import InputError
from .batch import BatchFormat
from .padding import IGNORE_INDEX, stack_padded


@dataclass
class ChunkDigest:
    """What is kept of a chunk of items: no inputs, only what the checks need."""

    indices: list[int]
    targets: Optional[torch.Tensor]  # stacked, one row per index
    nonfinite: list[int]
    shapes: set[tuple[int, ...]]
    error: Optional[str] = None  # an InputError's message (raised again where the items are used)


class Digest:
    """A DataLoader collate that checks (index, item) pairs and keeps their digest; picklable for workers."""

    def __init__(self, fmt: BatchFormat, split: str, pad_value: int = IGNORE_INDEX) -> None:
        self.fmt, self.split, self.pad_value = fmt, split, pad_value

    def __call__(self, pairs: list[tuple[int, Any]]) -> ChunkDigest:
        digest, targets = ChunkDigest([], None, [], set()), []
        try:
            for i, item in pairs:
                args, kwargs, target = self.fmt.split_item(item, f"{self.split} item {i}")
                refuse_non_tensors(args, kwargs, target, f"{self.split} item {i}")
                inputs = [torch.as_tensor(v) for v in (*args, *kwargs.values()) if _tensor_like(v)]
                target = torch.as_tensor(target)
                digest.indices.append(int(i))
                targets.append(target)
                if inputs:
                    digest.shapes.add(tuple(inputs[0].shape))
                if not (all(map(_finite, inputs)) and _finite(target)):
                    digest.nonfinite.append(int(i))
            digest.targets = stack_targets(targets, self.split, self.pad_value) if targets else None
        except InputError as err:  # told to the reading process as data, not as a worker's traceback
            digest.error = str(err)
        return digest


def stack_targets(targets: list[torch.Tensor], split: str, pad_value: int = IGNORE_INDEX) -> torch.Tensor:
    try:
        return torch.stack(targets)
    except RuntimeError as err:
        if all(t.dim() == 1 and not t.is_floating_point() for t in targets):  # token labels of any length
            return stack_padded(targets, pad_value)
        raise InputError(f"{split} targets have varying shapes and cannot be batched: {err}") from None


class CollatedDigest:
    """A DataLoader collate: the run's `collate` on a chunk of (index, item) pairs, then what the checks
    keep of the batch it makes (targets, NaN/Inf rows, the main input's shape); picklable for workers."""

    def __init__(self, collate: Callable[[list[Any]], Any], fmt: BatchFormat, split: str) -> None:
        self.collate, self.fmt, self.split = collate, fmt, split

    def __call__(self, pairs: list[tuple[int, Any]]):
        indices = [int(i) for i, _ in pairs]
        digest = ChunkDigest(indices, None, [], set())
        try:
            batch = self.fmt.split(self.collate([item for _, item in pairs]))
        except InputError as err:  # told to the reading process as data, not as a worker's traceback
            digest.error = str(err)
            return digest
        except Exception as err:  # noqa: BLE001 - the user's collate failing on their items, named
            digest.error = (
                f"the collate function (loader.train.collate_fn) failed on {self.split} items "
                f"{indices[0]}..{indices[-1]}: {type(err).__name__}: {err}"
            )
            return digest
        if not isinstance(batch.targets, torch.Tensor):
            digest.error = f"{self.split} batches hold targets of type {type(batch.targets).__name__}; need a tensor"
            return digest
        bad = ~finite_rows(batch.targets)
        for _, tensor in batch.named_inputs():
            if tensor.dim() >= 1 and len(tensor) == len(bad):
                bad |= ~finite_rows(tensor)
        digest.nonfinite = [indices[k] for k in bad.nonzero().flatten().tolist()]
        if batch.first_input is not None:
            digest.shapes.add(tuple(batch.first_input.shape[1:]))
        digest.targets = batch.targets
        return digest


def refuse_non_tensors(args: tuple[Any, ...], kwargs: dict[str, Any], target: Any, where: str) -> None:
    """An item's inputs and target must be tensors (or numbers, arrays, lists of them): a string or an image
    object passes the default collate as a list and breaks every check after it, far from its cause."""
    collate = (
        "or give loader.train.collate_fn, a collate that makes tensors of the items (the test loader uses it "
        "too unless loader.test.collate_fn is set)"
    )
    fields = [(f"input {k}", v) for k, v in enumerate(args)] + [(f"input {k!r}", v) for k, v in kwargs.items()]
    for field, value in fields:
        if not _numeric(value):
            raise InputError(
                f"{where}: {field} is a {type(value).__name__} ({_shown(value)}), not a tensor: the model and "
                f"saneloop's checks read tensors. Make one in the dataset (a transform: tokenize text, ToTensor "
                f"for images), {collate}"
            )
    if not _numeric(target):
        raise InputError(
            f"{where}: the target is a {type(target).__name__} ({_shown(target)}), not a number or a tensor. Map "
            f"it to one in the dataset (class names to class indices: a target_transform), {collate}"
        )


def _numeric(value: Any, depth: int = 0) -> bool:
    """A tensor, a number, an array, or a (short look into a) list or dict of them."""
    if _tensor_like(value):
        return True
    if isinstance(value, (list, tuple)) and depth < 3:
        return all(_numeric(v, depth + 1) for v in value[:16])
    if isinstance(value, Mapping) and depth < 3:
        return all(_numeric(v, depth + 1) for v in list(value.values())[:16])
    return False


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _tensor_like(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, int, float, bool)) or hasattr(value, "__array__")


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t).all()) if t.is_floating_point() else True


def finite_rows(t: torch.Tensor) -> torch.Tensor:
    if not t.is_floating_point():
        return torch.ones(len(t), dtype=torch.bool)
    return torch.isfinite(t.reshape(len(t), -1)).all(1)
