"""What the stages share, typed: the run's settings and builders, its record and gates (`RunContext`),
and what one stage hands the next (`Built` from setup, `Trained` from train)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torch.utils.data import Dataset

from ..config.builders import Builders
from ..config.settings import RunSettings
from ..data.loaders import Loaders
from ..data.summary import DatasetSummary
from ..engine.checkpoint import Resumed
from ..engine.gates import GateRunner
from ..models.forward import ModelOutputs
from ..models.pretrained import Loaded
from ..models.pretraining import Pretraining
from ..record.run_record import RunRecord
from ..tasks.base import Task


@dataclass
class RunContext:
    """What every stage may use. Built once by the pipeline; stages read it and never change it."""

    settings: RunSettings
    builders: Builders
    run_dir: Path
    record: RunRecord
    gates: GateRunner  # gates(name, compute) runs one gate
    accelerator: Any
    resumed: Optional[Resumed] = None  # resume=RUN_DIR: the checkpoint train continues from

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def outputs(self) -> ModelOutputs:
        """How the model's output is read (model_output.*), by the loop and by every gate that runs it."""
        read = self.settings.model_output
        return ModelOutputs(read.logits_key, read.loss_key, read.model_loss)


@dataclass
class Built:
    """What `setup` builds and every later stage works on. `model` is the run's model (unwrapped), its
    final bias set from the data by `sanity`; `head` names that final layer once it is found.
    Every decision reads `val_set`; `test_set` is read once, by `evaluate`."""

    task: Task
    train_set: Dataset
    val_set: Dataset
    test_set: Dataset
    train_summary: DatasetSummary
    val_summary: DatasetSummary
    test_summary: DatasetSummary
    loaders: Loaders
    model: nn.Module
    head: Optional[str] = None
    loaded: Optional[Loaded] = None  # init_from: which of the model's keys are pretrained (None: all from the seed)
    copied: Optional[tuple[int, ...]] = None  # test items with a training copy (split_overlap; None: not run)
    pretraining: Optional[Pretraining] = None  # set by sanity: the model starts pretrained, and how that is known


@dataclass
class Trained:
    """What `train` hands `evaluate`: the model as trained (wrapped by Accelerate when it had to be,
    compiled when `train.compile`), and the module itself: probes, hooks and saved weights use `eager`."""

    model: nn.Module
    losses: torch.Tensor  # one per optimizer step
    eager: Optional[nn.Module] = None  # the same parameters, not compiled (None: `model` is not compiled)

    @property
    def module(self) -> nn.Module:
        """The model to hook, probe or save (never the compiled wrapper)."""
        return self.eager if self.eager is not None else self.model
