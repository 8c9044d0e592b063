"""What a batch is to saneloop: the model's inputs (positional and keyword) and the targets.

Real training code shapes items in several ways: an `(input, target)` pair, several inputs and a
target, or a dict (`input_ids`, `attention_mask`, `labels`) as Hugging Face collators make. One
`BatchFormat` turns each of them into a `Batch`, a plain record of data: it moves, selects and maps
its tensors, and never calls a model (`saneloop.models.forward` runs a model on a batch and reads what
it returns). The format also names the keyword input that marks padding (`mask_key`, default
`attention_mask`) and the targets' keys, under which a model that computes its own loss is given them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import torch

from ..errors import InputError


@dataclass
class Batch:
    """Positional inputs, keyword inputs, targets, and (where known) the dataset index of each sample."""

    inputs: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    targets: Any = None
    indices: Optional[torch.Tensor] = None
    fmt: Optional[BatchFormat] = None  # how the items were split (target keys, mask key); None: the defaults

    def label_kwargs(self) -> dict[str, Any]:
        """The targets as the model's keyword inputs, under their own keys (`labels` for tuple items)."""
        if isinstance(self.targets, Mapping):
            return dict(self.targets)
        return {self.format.target_keys[0]: self.targets}

    @property
    def format(self) -> BatchFormat:
        return self.fmt if self.fmt is not None else DEFAULT_FORMAT

    @property
    def padding_mask(self) -> Optional[torch.Tensor]:
        """Real positions (True) and padding (False), from the keyword input `mask_key`; None without one."""
        key = self.format.mask_key
        mask = self.kwargs.get(key) if key else None
        return mask != 0 if isinstance(mask, torch.Tensor) and mask.dim() == 2 else None

    def __len__(self) -> int:
        for _, tensor in self.named_inputs():
            if tensor.dim() >= 1:
                return int(tensor.shape[0])
        if isinstance(self.targets, torch.Tensor) and self.targets.dim() >= 1:
            return int(self.targets.shape[0])
        return 0

    def named_inputs(self) -> Iterator[tuple[str, torch.Tensor]]:
        """Every input tensor with its name: `0`, `1`, ... for positional ones, the key for keyword ones."""
        for k, value in enumerate(self.inputs):
            if isinstance(value, torch.Tensor):
                yield str(k), value
        for key, value in self.kwargs.items():
            if isinstance(value, torch.Tensor):
                yield key, value

    @property
    def first_input(self) -> Optional[torch.Tensor]:
        """The main input: the first positional tensor, else the first keyword tensor."""
        return next((t for _, t in self.named_inputs()), None)

    def map_inputs(self, fn: Callable[[str, torch.Tensor], Any]) -> Batch:
        """The same batch with every input tensor replaced by `fn(name, tensor)` (targets untouched)."""
        inputs = tuple(fn(str(k), v) if isinstance(v, torch.Tensor) else v for k, v in enumerate(self.inputs))
        kwargs = {k: fn(k, v) if isinstance(v, torch.Tensor) else v for k, v in self.kwargs.items()}
        return replace(self, inputs=inputs, kwargs=kwargs)

    def to(self, device: Any, non_blocking: bool = False) -> Batch:
        """On `device`. A pinned tensor (a loader with `pin_memory`) is always copied without blocking: the copy
        runs beside the host's work, and the stream orders it before the step reads it (Accelerate's own
        placement asks for blocking copies). Copies back from the device block unless asked."""
        move = lambda v: _moved(v, device, non_blocking)
        return replace(
            self,
            inputs=tuple(move(v) for v in self.inputs),
            kwargs={k: move(v) for k, v in self.kwargs.items()},
            targets=move(self.targets),
        )

    def pin_memory(self) -> Batch:  # DataLoader(pin_memory=True) calls this on custom batch types
        pin = lambda v: v.pin_memory() if isinstance(v, torch.Tensor) else v
        return replace(
            self,
            inputs=tuple(pin(v) for v in self.inputs),
            kwargs={k: pin(v) for k, v in self.kwargs.items()},
            targets=_mapped(self.targets, pin),
        )

    def select(self, rows: Any) -> Batch:
        """The samples at `rows` (an index tensor or slice) of every input, target and index."""
        take = lambda v: v[rows] if isinstance(v, torch.Tensor) and v.dim() >= 1 else v
        return replace(
            self,
            inputs=tuple(take(v) for v in self.inputs),
            kwargs={k: take(v) for k, v in self.kwargs.items()},
            targets=_mapped(self.targets, take),
            indices=take(self.indices) if self.indices is not None else None,
        )


def pin_memory_for(device: Any, loader_keywords: Mapping[str, Any]) -> dict[str, Any]:
    """`pin_memory=True` for a loader that feeds a CUDA device, unless its config sets `pin_memory`
    (`loader.train.pin_memory`): a pinned batch is copied to the GPU without blocking (`Batch.to`), beside
    the host's work. On CPU pinning only costs."""
    if device is None or torch.device(device).type != "cuda" or "pin_memory" in loader_keywords:
        return {}
    return {"pin_memory": True}


def _moved(value: Any, device: Any, non_blocking: bool) -> Any:
    move = lambda v: v.to(device, non_blocking=non_blocking or v.is_pinned())
    return _mapped(value, lambda v: move(v) if isinstance(v, torch.Tensor) else v)


def _mapped(value: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(value, Mapping):
        return {k: fn(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(fn(v) for v in value)
    return fn(value)


@dataclass(frozen=True)
class BatchFormat:
    """How an item (or a collated batch) splits into model inputs and targets.

    A tuple or list: the last element is the target, the others are positional inputs. A dict: the
    `target_keys` are the targets (one key: that tensor; several: a dict of them), every other key
    is a keyword input. `mask_key`: the keyword input marking real positions (1) and padding (0).
    """

    target_keys: tuple[str, ...] = ("labels",)
    mask_key: Optional[str] = "attention_mask"

    def split(self, collated: Any, indices: Optional[torch.Tensor] = None) -> Batch:
        if isinstance(collated, Batch):
            return collated
        inputs, kwargs, targets = self._parts(collated, "a batch")
        return Batch(inputs, kwargs, targets, indices, self)

    def split_item(self, item: Any, where: str) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
        """(positional inputs, keyword inputs, target) of one dataset item; `where` names it in errors."""
        return self._parts(item, where)

    def _parts(self, value: Any, where: str) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
        if isinstance(value, Mapping):
            missing = [k for k in self.target_keys if k not in value]
            if missing:
                raise InputError(
                    f"{where} is a dict with keys {sorted(value)} but no target key {missing}; name "
                    f"the target with data.target_keys (now {list(self.target_keys)})"
                )
            targets = (
                value[self.target_keys[0]] if len(self.target_keys) == 1 else {k: value[k] for k in self.target_keys}
            )
            return (), {k: v for k, v in value.items() if k not in self.target_keys}, targets
        if isinstance(value, (tuple, list)) and len(value) >= 2:
            return tuple(value[:-1]), {}, value[-1]
        raise InputError(
            f"{where} is a {type(value).__name__}; saneloop needs an (input, target) pair, "
            "(input, ..., target) with several inputs, or a dict holding the target under "
            f"data.target_keys={list(self.target_keys)}: make the dataset's __getitem__ return one"
        )


DEFAULT_FORMAT = BatchFormat()
