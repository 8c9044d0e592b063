"""Everything the stages share during one run. `setup` fills in what the config builds."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from .checks.verdict import Verdict
from .console import Terminal
from .dataset_summary import DatasetSummary
from .errors import InputError
from .report import Report
from .seeding import generator
from .tasks.base import Task
from .tracking import Tracker

GateFn = Callable[[str, Callable[[Any], Verdict]], Verdict]


@dataclass
class RunContext:
    cfg: DictConfig
    run_dir: Path
    report: Report
    tracker: Tracker
    terminal: Terminal
    gate: GateFn  # ctx.gate(name, compute) runs one gate; set by the pipeline
    accelerator: Any = None
    task: Optional[Task] = None
    train_set: Optional[Dataset] = None
    test_set: Optional[Dataset] = None
    train_summary: Optional[DatasetSummary] = None
    test_summary: Optional[DatasetSummary] = None
    model: Optional[nn.Module] = None  # the run's model (unwrapped), built in setup
    state: dict[str, Any] = field(default_factory=dict)  # results one stage leaves for the next

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def seed(self) -> int:
        return int(self.cfg.seed)

    def probe_loader(self, batch_size: Optional[int] = None) -> DataLoader:
        """Shuffled training batches for the gates, from their own generator: gates never shift the
        training data order, so turning one off does not change the trained model."""
        size = batch_size or int(self.cfg.loader.train.batch_size)
        return DataLoader(self.train_set, batch_size=size, shuffle=True, generator=generator(self.seed + 1),
                          collate_fn=self.cfg_collate())

    def fixed_batch(self, size: int) -> Any:
        """The same `size` training examples for a given seed (the overfit batch)."""
        if size > len(self.train_set):
            raise InputError(f"gates.overfit.batch_size={size} is larger than the training set "
                             f"({len(self.train_set)} examples); lower it")
        picks = torch.randperm(len(self.train_set), generator=generator(self.seed + 2))[:size]
        subset = Subset(self.train_set, picks.tolist())
        return next(iter(DataLoader(subset, batch_size=size, shuffle=False, collate_fn=self.cfg_collate())))

    def cfg_collate(self) -> Any:
        from hydra.utils import instantiate
        node = self.cfg.loader.train.get("collate_fn")
        return instantiate(node) if node is not None else None
