"""Python objects in place of config nodes: `saneloop.run(model=..., data=(train, test), task=...)`.

A notebook user builds the model and datasets by hand and has no YAML. Each object is held here for
the length of one run, under a token, and the config names it through a `_target_` that hands it
back: a model as a fresh copy of its initial weights each time it is built (the gates build it more
than once), datasets and tasks as they are. The recipe still supplies the optimizer, the loaders
and every gate setting.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn
from torch.utils.data import default_collate

from ..errors import InputError

_HELD: dict[str, Any] = {}
HELD_TARGET = "saneloop.runner.objects.held"


def held(token: str) -> Any:
    """What `_target_: saneloop.runner.objects.held` builds: the object held under `token`."""
    if token not in _HELD:
        raise InputError(
            f"no Python object is held under {token}: objects passed to saneloop.run(model=...) "
            "live for that call only, so such a run cannot be resumed or re-run from its config"
        )
    obj = _HELD[token]
    return copy.deepcopy(obj) if isinstance(obj, nn.Module) else obj


@contextmanager
def holding(
    cfg: DictConfig, model: Optional[nn.Module], data: Optional[tuple[Any, Any]], task: Any
) -> Iterator[DictConfig]:
    """`cfg` with its model, data and task nodes pointing at the given objects, for the block's length."""
    tokens: list[str] = []

    def node(obj: Any, **meta: Any) -> DictConfig:
        token = f"{type(obj).__name__}-{uuid.uuid4().hex[:8]}"
        _HELD[token] = obj
        tokens.append(token)
        return OmegaConf.create({"_target_": HELD_TARGET, "token": token, **meta})

    try:
        with open_dict(cfg):
            if model is not None:
                cfg.model = node(model)
            if data is not None:
                cfg.data = node(_pair(data), **_data_meta(cfg, model, data))
            if task is not None and not isinstance(task, str):
                cfg.task = node(task)
        yield cfg
    finally:
        for token in tokens:
            _HELD.pop(token, None)


def _pair(data: Any) -> tuple[Any, Any]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise InputError(f"data= must be a pair (train_dataset, test_dataset), got {type(data).__name__}")
    return data[0], data[1]


def _data_meta(cfg: DictConfig, model: Optional[nn.Module], data: tuple[Any, Any]) -> dict[str, Any]:
    """num_classes / vocab_size / outputs (regress) for a task that reads them from the data config: the
    model's output size (what its head was built for), else the recipe's own value."""
    meta = {k: cfg.data[k] for k in ("num_classes", "vocab_size", "target_keys", "outputs") if k in cfg.data}
    size = _output_size(model if model is not None else None, data[0])
    if size is not None:
        meta.update(num_classes=size, vocab_size=size, outputs=size)
    return meta


def _output_size(model: Optional[nn.Module], train_set: Any) -> Optional[int]:
    if model is None or len(train_set) == 0:
        return None
    item = train_set[0]
    if isinstance(item, dict) or not isinstance(item, (tuple, list)) or len(item) < 2:
        return None  # the batch format decides; the task's own num_classes must then be given
    probe = copy.deepcopy(model).eval()
    with torch.no_grad():
        out = probe(*default_collate([item, item])[:-1])
    return int(out.shape[-1]) if isinstance(out, torch.Tensor) and out.dim() >= 2 else None
