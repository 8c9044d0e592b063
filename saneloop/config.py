"""Typed configuration: the schema Hydra checks every key against, and the recipe registry.

Framework-owned keys (gates, train, loader, accelerator) are dataclasses, so a misspelled key
fails with its name. What a user swaps (data, model, task, optim, scheduler) is a `_target_` node.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from .checks import (augmentation_off, batch_independence, beats_baselines, capacity, causality, classes_present,
                     determinism, eval_repeatable, full_eval, init_bias, init_loss, input_independent, inputs_finite,
                     loopy_reference, loss_decreases, overfit, params_learn, targets)

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = REPO_ROOT / "conf"
RECIPES_DIR = REPO_ROOT / "recipes"

# Keys of the data config that describe the data rather than being arguments of its `_target_`.
DATA_META_KEYS = ("num_classes", "vocab_size")


@dataclass
class GatesConfig:
    """One entry per gate, in the order the pipeline meets them."""

    targets: targets.Settings = field(default_factory=targets.Settings)
    classes_present: classes_present.Settings = field(default_factory=classes_present.Settings)
    inputs_finite: inputs_finite.Settings = field(default_factory=inputs_finite.Settings)
    augmentation_off: augmentation_off.Settings = field(default_factory=augmentation_off.Settings)
    determinism: determinism.Settings = field(default_factory=determinism.Settings)
    init_bias: init_bias.Settings = field(default_factory=init_bias.Settings)
    init_loss: init_loss.Settings = field(default_factory=init_loss.Settings)
    params_learn: params_learn.Settings = field(default_factory=params_learn.Settings)
    batch_independence: batch_independence.Settings = field(default_factory=batch_independence.Settings)
    causality: causality.Settings = field(default_factory=causality.Settings)
    loopy_reference: loopy_reference.Settings = field(default_factory=loopy_reference.Settings)
    input_independent: input_independent.Settings = field(default_factory=input_independent.Settings)
    overfit: overfit.Settings = field(default_factory=overfit.Settings)
    capacity: capacity.Settings = field(default_factory=capacity.Settings)
    loss_decreases: loss_decreases.Settings = field(default_factory=loss_decreases.Settings)
    full_eval: full_eval.Settings = field(default_factory=full_eval.Settings)
    eval_repeatable: eval_repeatable.Settings = field(default_factory=eval_repeatable.Settings)
    beats_baselines: beats_baselines.Settings = field(default_factory=beats_baselines.Settings)


def _loader(batch_size: int, shuffle: bool) -> dict[str, Any]:
    return {"_target_": "torch.utils.data.DataLoader", "_partial_": True, "batch_size": batch_size,
            "shuffle": shuffle, "num_workers": 0, "drop_last": False}


@dataclass
class LoaderConfig:
    """DataLoader partials; saneloop adds the seeded generator, worker seeding and eval indexing."""

    train: Any = field(default_factory=lambda: _loader(64, True))
    test: Any = field(default_factory=lambda: _loader(256, False))


@dataclass
class TrainConfig:
    epochs: int = 30
    max_steps: Optional[int] = None  # stop after this many optimizer steps (null: run all epochs)
    log_every: int = 10  # steps between TensorBoard points (each costs one host sync)
    # Steps between predictions on a fixed test batch (tip 11: prediction dynamics); null: 10 over the run.
    eval_every: Optional[int] = None


@dataclass
class CheckpointConfig:
    """Checkpoints of the train stage in RUN_DIR/checkpoints/; `resume=RUN_DIR` continues from the latest."""

    every: int = 1000  # train steps between checkpoints (0: only at the end of train and on SIGINT/SIGTERM)
    keep: int = 2  # how many of the latest checkpoints stay on disk


@dataclass
class AcceleratorConfig:
    """Passed to `accelerate.Accelerator`; `accelerate launch` flags and env settings also apply."""

    cpu: bool = False
    mixed_precision: Optional[str] = None  # null: whatever `accelerate config` / launch chose
    gradient_accumulation_steps: int = 1
    # Seconds a collective waits for the other processes before the run stops with an error
    # (a hung or lost process); only used when launched as many processes.
    timeout_s: int = 600


@dataclass
class BaselinesConfig:
    human: Optional[float] = None  # a human's score on the headline metric, if known


@dataclass
class OutputConfig:
    save_weights: bool = True
    progress: bool = True  # show a progress bar during train
    figures: bool = True  # draw the figures (PNG in the run dir, TensorBoard images)


@dataclass
class SaneloopConfig:
    recipe: str = MISSING  # set by +recipe=NAME
    seed: int = 0
    # torch CPU threads per process; null: torch's default (one per core). Tiny models on a few
    # cores run fastest on 1 (README, "Performance").
    threads: Optional[int] = None
    deterministic: bool = True  # torch.use_deterministic_algorithms (and cuBLAS workspace) on
    data: Any = MISSING
    model: Any = MISSING
    # Dotted name of the final layer whose bias is set from the data; null: the last module with a
    # bias of the task's output size.
    model_head: Optional[str] = None
    task: Any = MISSING
    optim: Any = MISSING
    scheduler: Any = None
    # A random transform (`_target_`) for training inputs, applied by the train stage only, so every
    # gate before it sees the data as it is (tip 2). Off by default (augment=none).
    augment: Any = None
    loader: LoaderConfig = field(default_factory=LoaderConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    accelerator: AcceleratorConfig = field(default_factory=AcceleratorConfig)
    gates: GatesConfig = field(default_factory=GatesConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    resume: Optional[str] = None  # a run dir to continue in place from its latest checkpoint


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def register_configs() -> None:
    """Store the schema, and every `recipes/*.yaml` as option NAME of group `recipe` (`+recipe=NAME`)."""
    store = ConfigStore.instance()
    store.store(name="saneloop_schema", node=SaneloopConfig)
    for path in RECIPES_DIR.glob("*.yaml"):
        store.store(group="recipe", name=path.stem, node=OmegaConf.load(path), package="_global_")
