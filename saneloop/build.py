"""Build what the config names (data, task, model, optimizer, loaders), with errors that say the fix."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Sequence

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, Dataset, default_collate

from .config import DATA_META_KEYS
from .errors import InputError
from .seeding import generator, seed_worker
from .tasks.base import Task


def build(node: DictConfig, key: str, *args: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, with failures turned into an InputError naming the config key."""
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise InputError(f"config key '{key}' needs a `_target_` (got {node!r}); see conf/{key}/ for examples")
    try:
        return instantiate(node, *args, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__ or err
        if isinstance(cause, ImportError):
            why = " ".join(line.strip() for line in str(cause).splitlines()[1:2])  # e.g. No module named 'x'
            raise InputError(f"{key}._target_={node._target_} does not import ({why}). Check its spelling, and that "
                             "its module is importable from where you run (your project's folder, or on "
                             "PYTHONPATH)") from err
        raise InputError(f"could not build '{key}' from _target_={node._target_}: {cause}. "
                         f"Check that {key}._target_ imports and that every argument under '{key}' is one it "
                         "accepts.") from err


def build_datasets(cfg: DictConfig) -> tuple[Dataset, Dataset]:
    node = OmegaConf.masked_copy(cfg.data, [k for k in cfg.data if k not in DATA_META_KEYS])
    result = build(node, "data")
    if not (isinstance(result, (tuple, list)) and len(result) == 2 and all(_is_dataset(d) for d in result)):
        raise InputError(f"data._target_={cfg.data._target_} returned {type(result).__name__}; it must return "
                         "(train_dataset, test_dataset), two torch Datasets of (input, target) pairs")
    return result[0], result[1]


def build_task(cfg: DictConfig) -> Task:
    task = build(cfg.task, "task")
    if not isinstance(task, Task):
        raise InputError(f"task._target_={cfg.task._target_} does not build a saneloop Task (see saneloop/tasks)")
    return task


def build_model(cfg: DictConfig) -> nn.Module:
    model = build(cfg.model, "model")
    if not isinstance(model, nn.Module):
        raise InputError(f"model._target_={cfg.model._target_} returned {type(model).__name__}, not an nn.Module")
    return model


def build_optimizer(cfg: DictConfig, params: Sequence[torch.nn.Parameter], lr: float | None = None
                    ) -> torch.optim.Optimizer:
    factory = build(cfg.optim, "optim")
    if not callable(factory) or isinstance(factory, torch.optim.Optimizer):
        raise InputError("optim must be a partial (`_partial_: true`) so saneloop can hand it the parameters")
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise InputError("the model has no trainable parameters (every requires_grad is False); unfreeze "
                         "at least the layers you mean to train")
    return factory(trainable) if lr is None else factory(trainable, lr=lr)


def build_scheduler(cfg: DictConfig, optimizer: torch.optim.Optimizer) -> Any:
    return None if cfg.scheduler is None else build(cfg.scheduler, "scheduler")(optimizer)


class IndexedDataset(Dataset):
    """Yields (index, item) so evaluation can prove it saw every example exactly once."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.dataset[index]


def _indexed_collate(items: list[tuple[int, Any]], inner: Callable[[list[Any]], Any]) -> tuple[torch.Tensor, Any]:
    return torch.tensor([i for i, _ in items]), inner([item for _, item in items])


def build_train_loader(cfg: DictConfig, dataset: Dataset, seed: int) -> DataLoader:
    factory = build(cfg.loader.train, "loader.train")
    return factory(dataset, generator=generator(seed), worker_init_fn=seed_worker)


def build_test_loader(cfg: DictConfig, dataset: Dataset) -> DataLoader:
    """The test loader over (index, item); the user's collate_fn, if any, still collates the items."""
    factory = build(cfg.loader.test, "loader.test")
    inner = factory.keywords.get("collate_fn") or default_collate
    factory.keywords["collate_fn"] = partial(_indexed_collate, inner=inner)
    return factory(IndexedDataset(dataset), worker_init_fn=seed_worker)


def _is_dataset(obj: Any) -> bool:
    return isinstance(obj, Dataset) or (hasattr(obj, "__getitem__") and hasattr(obj, "__len__"))
