"""The composed config, read once: typed, validated sections for the framework's own keys, and the
`_target_` nodes a user swaps, kept apart for `Builders` to build.

`read_settings` is the one place a run reads its config. Every value is checked here, before the
first gate runs: a `bounded` field out of its range, a loader batch size below 1, a mixed-precision
mode Accelerate does not know, each refused with the key's name and how to fix it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from ..checks.base.settings import problem
from ..errors import InputError
from .schema import (
    AcceleratorConfig,
    BaselinesConfig,
    CheckpointConfig,
    GatesConfig,
    InitFromConfig,
    ModelOutputConfig,
    OutputConfig,
    SaneloopConfig,
    TrainConfig,
    ValidationConfig,
)

TYPED = (
    "train",
    "accelerator",
    "gates",
    "baselines",
    "output",
    "checkpoint",
    "model_output",
    "validation",
    "init_from",
)


@dataclass(frozen=True)
class RunSettings:
    recipe: str
    seed: int
    threads: Optional[int]
    deterministic: bool
    model_head: Optional[str]
    resume: Optional[str]
    stop_after: Optional[str]  # the last stage to run (null: every stage)
    train: TrainConfig
    accelerator: AcceleratorConfig
    gates: GatesConfig
    baselines: BaselinesConfig
    output: OutputConfig
    checkpoint: CheckpointConfig
    model_output: ModelOutputConfig
    validation: ValidationConfig
    config: DictConfig  # the whole composed config: the user's `_target_` nodes, config.yaml, checkpoints
    init_from: InitFromConfig = dataclasses.field(default_factory=InitFromConfig)  # pretrained weights to start from
    model_pretrained: Optional[bool] = None  # declared pretrained (true), from scratch (false), or found (null)

    @cached_property
    def config_yaml(self) -> str:
        """The resolved config as YAML (config.yaml, every checkpoint): made once, it costs ~10 ms."""
        return OmegaConf.to_yaml(self.config, resolve=True)


def read_settings(cfg: DictConfig) -> RunSettings:
    """Typed sections of `cfg`, every value checked; InputError naming each bad key otherwise."""
    sections = {name: OmegaConf.to_object(cfg[name]) for name in TYPED}
    found = [p for name, value in sections.items() for p in problems(value, name)]
    found += _top_level_problems(cfg) + _loader_problems(cfg)
    if found:
        raise InputError("bad config value" + ("s" if len(found) > 1 else "") + ": " + "; ".join(found))
    return RunSettings(
        recipe=str(cfg.recipe),
        seed=int(cfg.seed),
        threads=cfg.threads,
        deterministic=bool(cfg.deterministic),
        model_head=cfg.get("model_head"),
        model_pretrained=cfg.get("model_pretrained"),
        resume=cfg.get("resume"),
        stop_after=cfg.get("stop_after"),
        config=cfg,
        **sections,
    )


def problems(value: Any, path: str) -> Iterator[str]:
    """`key=value must be ...` for every `bounded` field of a settings dataclass (recursively)."""
    if not dataclasses.is_dataclass(value):
        return
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        why = problem(item, f.metadata)
        if why:
            yield f"{path}.{f.name}={item} {why}"
        yield from problems(item, f"{path}.{f.name}")


# Top-level `bounded` keys, and what their null means (said beside the range when a value is refused).
_TOP_LEVEL_NULL = {"threads": "torch's default", "stop_after": "every stage"}


def _top_level_problems(cfg: DictConfig) -> list[str]:
    fields = {f.name: f for f in dataclasses.fields(SaneloopConfig)}
    found = []
    for name, null in _TOP_LEVEL_NULL.items():
        why = problem(cfg.get(name), fields[name].metadata)
        if why:
            found.append(f"{name}={cfg.get(name)} {why} (or null for {null})")
    return found


def _loader_problems(cfg: DictConfig) -> list[str]:
    found = []
    for split in ("train", "test"):
        node = cfg.loader[split]
        size = node.get("batch_size") if isinstance(node, DictConfig) else None
        if isinstance(size, int) and size < 1:
            found.append(f"loader.{split}.batch_size={size} must be >= 1")
        workers = node.get("num_workers") if isinstance(node, DictConfig) else None
        if isinstance(workers, int) and workers < 0:
            found.append(f"loader.{split}.num_workers={workers} must be >= 0")
    return found
