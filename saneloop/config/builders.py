"""Build what the config names by `_target_` (data, task, model, optimizer, scheduler, loaders,
augmentation), with errors that name the key and the fix.

`Builders` is the only reader of the user's `_target_` nodes: the stages ask it for things and
never look at the config themselves.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from ..data.augment import Augmented
from ..data.batch import BatchFormat
from ..data.loaders import Loaders
from ..errors import InputError
from ..tasks.base import Task
from .schema import DATA_META_KEYS


def build(node: Any, key: str, *args: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, with failures turned into an InputError naming the config key."""
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise InputError(f"config key '{key}' needs a `_target_` (got {node!r}); see saneloop/conf/{key}/ for examples")
    try:
        return instantiate(node, *args, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__ or err
        if isinstance(cause, ImportError):
            why = " ".join(line.strip() for line in str(cause).splitlines()[1:2])  # e.g. No module named 'x'
            raise InputError(
                f"{key}._target_={node._target_} does not import ({why}). Check its spelling, and that "
                "its module is importable from where you run (your project's folder, or on "
                "PYTHONPATH)"
            ) from err
        raise InputError(
            f"could not build '{key}' from _target_={node._target_}: {cause}. "
            f"Check that {key}._target_ imports and that every argument under '{key}' is one it "
            "accepts."
        ) from err


class Builders:
    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg

    def widened(self, overrides: Mapping[str, Any]) -> Builders:
        """The same builders with config keys changed (e.g. {"model.hidden": 512} for the capacity gate)."""
        cfg = copy.deepcopy(self.cfg)
        for key, value in overrides.items():
            OmegaConf.update(cfg, key, value, merge=False)
        return Builders(cfg)

    def has(self, key: str) -> bool:
        return OmegaConf.select(self.cfg, key) is not None

    @property
    def model_target(self) -> str:
        return str(self.cfg.model.get("_target_"))

    def datasets(self) -> tuple[Dataset, Optional[Dataset], Dataset]:
        """(train, val, test) from `data._target_`: it returns (train, test), and setup carves the validation
        set from train (`validation.*`), or (train, val, test) with a validation set of its own (val: None)."""
        data = self.cfg.data
        node = OmegaConf.masked_copy(data, [k for k in data if k not in DATA_META_KEYS])
        result = build(node, "data")
        if not (isinstance(result, (tuple, list)) and len(result) in (2, 3) and all(_is_dataset(d) for d in result)):
            got = f"{len(result)} items" if isinstance(result, (tuple, list)) else type(result).__name__
            raise InputError(
                f"data._target_={data._target_} returned {got}; it must return (train_dataset, test_dataset), "
                "or (train_dataset, val_dataset, test_dataset) with a validation set of its own: torch "
                "Datasets of (input, target) pairs or dicts"
            )
        return (result[0], None, result[1]) if len(result) == 2 else (result[0], result[1], result[2])

    def batch_format(self) -> BatchFormat:
        """How items split (data.target_keys, data.mask_key); how outputs are read is `RunContext.outputs`."""
        keys = self.cfg.data.get("target_keys") or ["labels"]
        return BatchFormat(
            tuple([keys] if isinstance(keys, str) else keys), self.cfg.data.get("mask_key", "attention_mask")
        )

    def task(self) -> Task:
        task = build(self.cfg.task, "task")
        if not isinstance(task, Task):
            raise InputError(
                f"task._target_={self.cfg.task._target_} does not build a saneloop Task (see saneloop/tasks)"
            )
        return task

    def model(self) -> nn.Module:
        model = build(self.cfg.model, "model")
        if not isinstance(model, nn.Module):
            raise InputError(
                f"model._target_={self.cfg.model._target_} returned {type(model).__name__}, not an nn.Module"
            )
        return model

    def optimizer(self, params: Sequence[nn.Parameter], lr: Optional[float] = None) -> torch.optim.Optimizer:
        factory = build(self.cfg.optim, "optim")
        if not callable(factory) or isinstance(factory, torch.optim.Optimizer):
            raise InputError("optim must be a partial (`_partial_: true`) so saneloop can hand it the parameters")
        trainable = [p for p in params if p.requires_grad]
        if not trainable:
            raise InputError(
                "the model has no trainable parameters (every requires_grad is False); unfreeze "
                "at least the layers you mean to train"
            )
        return factory(trainable) if lr is None else factory(trainable, lr=lr)

    def scheduler(self, optimizer: torch.optim.Optimizer) -> Any:
        node = self.cfg.get("scheduler")
        return None if node is None else build(node, "scheduler")(optimizer)

    def check_optimizer(self) -> None:
        """Build the optimizer and the scheduler on a throwaway parameter and take two steps, so that a bad
        value under optim.* or scheduler.* is refused by name before any gate trains, not met as a traceback
        from inside torch in the middle of a gate."""
        nodes = {"optim": self.cfg.optim, "scheduler": self.cfg.get("scheduler")}
        for key, node in nodes.items():
            if isinstance(node, DictConfig):
                _refuse_unknown_or_non_numbers(node, key)
        weight = nn.Parameter(torch.zeros(2))
        with torch.random.fork_rng(devices=[]):  # a user's optimizer may draw: the run's stream stays as it was
            optimizer = _tried(nodes["optim"], "optim", lambda: self.optimizer([weight]))
            scheduler = _tried(nodes["scheduler"], "scheduler", lambda: self.scheduler(optimizer))
            weight.grad = torch.ones_like(weight)
            for _ in range(2):
                _tried(nodes["optim"], "optim", optimizer.step)
                if scheduler is not None:
                    _tried(nodes["scheduler"], "scheduler", scheduler.step)

    def augmented(self, dataset: Dataset) -> Dataset:
        """The training set the train stage iterates: wrapped in the `augment` transform when one is chosen."""
        node = self.cfg.get("augment")
        if node is None or node.get("_target_") is None:
            return dataset
        return Augmented(dataset, build(node, "augment"))

    def loaders(self, train_set: Dataset, test_set: Dataset, seed: int, val_set: Optional[Dataset] = None) -> Loaders:
        """The run's loaders; `loader.test` serves both evaluation splits (validation and test)."""
        return Loaders(
            train_set,
            test_set,
            build(self.cfg.loader.train, "loader.train"),
            build(self.cfg.loader.test, "loader.test"),
            self.batch_format(),
            seed,
            val_set,
        )


def _arguments(node: DictConfig) -> dict[str, Any]:
    return {str(k): node[k] for k in node if not str(k).startswith("_")}


def _refuse_unknown_or_non_numbers(node: DictConfig, key: str) -> None:
    """An argument the target does not take, or a string where it takes a number (`optim.lr=abc`)."""
    try:
        params = inspect.signature(get_object(str(node._target_))).parameters
    except Exception:  # noqa: BLE001 - a target that does not import is named when it is built
        return
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    names = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD][1:]  # [0]: the params
    for name, value in _arguments(node).items():
        if name not in params and not takes_any:
            raise InputError(
                f"{node._target_} takes no argument '{name}' (it takes {', '.join(names)}): remove {key}.{name} "
                "or fix its spelling"
            )
        param = params.get(name)
        if isinstance(value, str) and param is not None and _takes_number(param):
            default = "" if param.default is inspect.Parameter.empty else f", e.g. {key}.{name}={param.default}"
            raise InputError(f"{key}.{name}={value} is not a number; {node._target_} takes a number there{default}")


def _takes_number(param: inspect.Parameter) -> bool:
    if isinstance(param.default, (int, float)) and not isinstance(param.default, bool):
        return True
    return param.annotation in (int, float, "int", "float")


def _tried(node: Any, key: str, make: Callable[[], Any]) -> Any:
    """`make()`, with an exception from the user's optimizer or scheduler refused naming the key it came from."""
    try:
        return make()
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - whatever the optimizer raises on its arguments, named
        raise InputError(_refusal(node, key, err)) from err


def _refusal(node: DictConfig, key: str, err: Exception) -> str:
    """Name the argument the error is about (its name or its value in the message), else every argument."""
    said = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
    args = _arguments(node)
    named = [k for k, v in args.items() if _mentions(said, k) or _mentions(said, str(v))]
    if len(named) == 1:
        name = named[0]
        return f"{key}.{name}={args[name]} is refused by {node._target_} ({said}); set {key}.{name} to one it accepts"
    shown = ", ".join(f"{key}.{k}={v}" for k, v in args.items())
    return f"{key} ({node._target_}: {shown}) fails on a test parameter ({said}); check the values under {key}.*"


def _mentions(text: str, word: str) -> bool:
    return bool(re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w.])", text))


def _is_dataset(obj: Any) -> bool:
    return isinstance(obj, Dataset) or (hasattr(obj, "__getitem__") and hasattr(obj, "__len__"))
