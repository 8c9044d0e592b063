"""The typed schema Hydra checks every key against.

Framework-owned keys (gates, train, loader, accelerator, ...) are dataclasses, so a misspelled key
fails with its name, and a value out of its range (`bounded`) is refused before the first gate runs.
What a user swaps (data, model, task, optim, scheduler, augment) is a `_target_` node.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any, Optional

from omegaconf import MISSING

from ..checks.base.gate import STAGES
from ..checks.base.registry import GATES
from ..checks.base.settings import bounded

# Keys of the data config that describe the data rather than being arguments of its `_target_`.
DATA_META_KEYS = ("num_classes", "vocab_size", "target_keys", "mask_key", "outputs")
MIXED_PRECISION = ("no", "fp16", "bf16", "fp8")
ON_FAIL = ("halt", "continue")


def _gates_config() -> type:
    """One field per registered gate, typed by its settings class, in the order a run meets them: a
    misspelled gate or setting is refused by name, like every other key."""
    fields: list = [(gate.name, gate.settings, field(default_factory=gate.settings)) for gate in GATES]
    # What a failed gate does: `halt` the run at once (the default), or `continue`: record it, run every gate
    # that can still run (one whose inputs the failure spoiled is skipped, saying why), list every failure
    # at the end and exit 3. `saneloop check` is a run with `continue` that stops before train.
    fields.append(("on_fail", str, bounded("halt", choices=ON_FAIL)))
    # The time the gates that train copies (input_independent, overfit, capacity, ...) may take before `train`,
    # in plain training steps of the run's model (timed in setup), shared out by `Gate.budget_share`; a gate
    # out of budget passes as inconclusive, saying what it would need. null: unbounded.
    fields.append(("budget_steps", Optional[int], bounded(300, low=1)))
    # ...but never less than this many seconds: a small model's gates cost seconds, and bounding them would
    # only change verdicts (the bug bench's slowest training gate took 26 s on a busy machine).
    fields.append(("budget_floor_s", float, bounded(120.0, low=0.0)))
    config = make_dataclass("GatesConfig", fields, namespace={"__module__": __name__})
    config.__doc__ = "One entry per gate (derived from the gates' declarations, `saneloop.checks.base.registry`)."
    return config


GatesConfig = _gates_config()


def _loader(batch_size: int, shuffle: bool) -> dict[str, Any]:
    return {
        "_target_": "torch.utils.data.DataLoader",
        "_partial_": True,
        "batch_size": batch_size,
        "shuffle": shuffle,
        "num_workers": 0,
        "drop_last": False,
    }


@dataclass
class LoaderConfig:
    """DataLoader partials; saneloop adds the seeded generator, worker seeding, the batch format and
    eval indexing. A `collate_fn` (e.g. a padding collator) is used by every gate and probe too."""

    train: Any = field(default_factory=lambda: _loader(64, True))
    test: Any = field(default_factory=lambda: _loader(256, False))


@dataclass
class ValidationConfig:
    """The validation split: what every decision reads (the gates' held-out comparisons, the loss curve
    during training, a sweep's objective); the test set is evaluated once, at the end. Carved from the
    training set unless `data._target_` returns (train, val, test), three datasets."""

    # The share of the training set carved out (stratified by class when the targets are class labels).
    fraction: float = bounded(0.1, low=0.0, high=0.9, above=True)
    # ...but at least this many items (up to 30% of the training set): the held-out comparisons need
    # examples, not a share. 10% of 110 rows is 11, too few to tell a model from one fed zeros.
    min_items: int = bounded(100, low=0)
    # Seeds the carving; not the run's seed (as the data's split_seed): every run of a sweep, whatever its
    # seed, decides on the same validation items.
    seed: int = 0


@dataclass
class TrainConfig:
    epochs: int = bounded(30, low=1)
    # Stop after this many steps (null: run all epochs). A step is a batch on every process (N processes: about
    # 1/N of an epoch's steps each); with gradient accumulation K, K steps make one optimizer step.
    max_steps: Optional[int] = bounded(None, low=1)
    log_every: int = bounded(10, low=1)  # steps between TensorBoard points (each costs one host sync)
    # Steps between predictions on a fixed validation batch (tip 11: prediction dynamics); null: 10 over the run.
    eval_every: Optional[int] = bounded(None, low=1)
    # Validation-loss evaluations during train, evenly spaced, the last at the final step (the loss
    # curve's points with error bars, figures/loss.png); 0: none.
    full_evals: int = bounded(4, low=0)
    # The validation items each of those evaluates: a fixed seeded subset of this many (all when fewer), so
    # the curve costs a small share of training whatever the validation set's size (the report states it).
    # `evaluate` always reads the whole validation and test sets.
    curve_items: int = bounded(512, low=1)
    # torch.compile the model for the train and evaluate steps (gates and probes run it eagerly).
    # Worth it for models whose steps take milliseconds or more; the first steps pay the compile.
    compile: bool = False


@dataclass
class CheckpointConfig:
    """Checkpoints of the train stage in RUN_DIR/checkpoints/; `resume=RUN_DIR` continues from the latest."""

    every: int = bounded(1000, low=0)  # train steps between checkpoints (0: only at the end and on SIGINT/SIGTERM)
    keep: int = bounded(2, low=1)  # how many of the latest checkpoints stay on disk


@dataclass
class FsdpConfig:
    """Sharded training (FSDP2: torch's `fully_shard`) when launched as several processes: `+cluster=fsdp`.
    Parameters, gradients and optimizer state are split across the processes from `train` on; the gates
    before `train` run on the whole model in each process (README, "Sharded training (FSDP)")."""

    enabled: bool = False
    # Module class names sharded one by one (e.g. [Block]: each all-gathered only for its own forward and
    # backward); empty: the model is one unit, gathered whole for each forward and backward.
    layers: list[str] = field(default_factory=list)
    reshard_after_forward: bool = True  # free the gathered weights after forward (gather again for backward)


@dataclass
class AcceleratorConfig:
    """Passed to `accelerate.Accelerator`; `accelerate launch` flags and env settings also apply."""

    cpu: bool = False
    # null: whatever `accelerate config` / launch chose
    mixed_precision: Optional[str] = bounded(None, choices=MIXED_PRECISION)
    gradient_accumulation_steps: int = bounded(1, low=1)
    # Seconds a collective waits for the other processes before the run stops with an error
    # (a hung or lost process); only used when launched as many processes.
    timeout_s: int = bounded(600, low=1)
    fsdp: FsdpConfig = field(default_factory=FsdpConfig)


@dataclass
class ModelOutputConfig:
    """How saneloop reads what the model returns: a tensor is the logits; a dict or an object (a Hugging
    Face ModelOutput) holds them under `logits_key`. saneloop computes the task's loss from the logits
    (so the init-loss and bias expectations hold); `model_loss: true` trains on the model's own loss
    instead (forward is given the labels, e.g. `labels=`), after the `model_loss` gate has shown the
    two agree on the same batch."""

    logits_key: str = "logits"
    model_loss: bool = False
    loss_key: str = "loss"


@dataclass
class InitFromConfig:
    """Start from pretrained weights (README, "Start from pretrained weights"): read after setup builds and
    seeds the model, before any gate; nothing is downloaded. Keys that did not load are named, and a load
    that leaves most of the model at its random init, or whose shapes disagree, is refused (exit 2)."""

    # A saneloop run dir (its model.safetensors), a `save_pretrained` folder, a .safetensors file, or a torch
    # state dict (.pt/.pth/.bin, read with weights_only=True); null: train from the seeded init.
    path: Optional[str] = None
    # Globs of the model's keys left at their init on purpose (a new head for a new task: [head.*]): expected
    # missing, and not loaded even when the checkpoint holds them.
    new: list[str] = field(default_factory=list)
    # The least share of the model's parameter elements (outside `new`) that must load.
    min_loaded: float = bounded(0.5, low=0.0, high=1.0, above=True)


@dataclass
class PeftConfig:
    """LoRA adapters (`+peft=lora`, saneloop/models/adapters.py): put on the model after init_from loads it and
    before any gate reads it; the base is frozen, the adapters (and `modules_to_save`) train."""

    r: int = bounded(8, low=1)  # the adapters' rank: more trainable capacity is a higher rank
    alpha: float = bounded(16.0, low=0.0, above=True)  # the update is scaled by alpha / r
    dropout: float = bounded(0.0, low=0.0, high=1.0)  # on the adapters' input
    # Names (or name suffixes) of the Linear/Embedding/Conv modules that get adapters, or "all-linear"
    # (every Linear layer; on a transformers model, all but the output layer).
    target_modules: Any = "all-linear"
    # Modules trained in full beside the adapters (a new head: [head], [classifier]).
    modules_to_save: list[str] = field(default_factory=list)


@dataclass
class BaselinesConfig:
    human: Optional[float] = None  # a human's score on the headline metric, if known


@dataclass
class OutputConfig:
    save_weights: bool = True
    progress: bool = True  # show a progress bar during train
    figures: bool = True  # draw the figures (PNG in the run dir, TensorBoard images)
    # A run dir that holds an earlier run is refused; true: its files move to <dir>/previous-<time>/ first.
    overwrite: bool = False


@dataclass
class SaneloopConfig:
    recipe: str = MISSING  # set by +recipe=NAME
    seed: int = 0
    # torch CPU threads per process. 1 by default: saneloop's recipes (and most models trained on a CPU)
    # are tiny, and on a busy machine one more thread than there are free cores makes a run several
    # times slower (README, "Performance": charlm 2.9x slower on 2 threads than on 1). A large model
    # on many idle cores: threads=N; null: torch's default (one per core). Only speed: resume may change it.
    threads: Optional[int] = bounded(1, low=1)
    deterministic: bool = True  # torch.use_deterministic_algorithms (and cuBLAS workspace) on
    data: Any = MISSING
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    model: Any = MISSING
    # Dotted name of the final layer whose bias is set from the data; null: the last module with a
    # bias of the task's output size.
    model_head: Optional[str] = None
    # Whether the model starts pretrained, its final layer included (README, "Fine-tuning"): true judges it as
    # such (its loss at init must be below the prior's, its head's bias is left alone); false as a model
    # trained from scratch; null: found from init_from, a from_pretrained config, or its loss at init.
    model_pretrained: Optional[bool] = None
    model_output: ModelOutputConfig = field(default_factory=ModelOutputConfig)
    init_from: InitFromConfig = field(default_factory=InitFromConfig)
    peft: Optional[PeftConfig] = None  # +peft=lora: LoRA adapters on the model (null: train the model as built)
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
    # Run the stages up to and including this one, then stop (report status "stopped", exit 0), e.g.
    # `stop_after=setup` to check the data only; null: every stage.
    stop_after: Optional[str] = bounded(None, choices=STAGES)
