"""Build the context saneloop's `train` stage runs in, outside the full pipeline (for benchmarks).

Figures are off here: they are drawn once after the last step (a fixed cost, reported with the
other fixed costs), not per step.
"""
from __future__ import annotations

from pathlib import Path

from accelerate import Accelerator
from hydra import compose, initialize_config_dir
from torch import nn
from torch.utils.data import Dataset

from saneloop.config import CONF_DIR, register_configs
from saneloop.console import Terminal
from saneloop.context import RunContext
from saneloop.pipeline import GateRunner
from saneloop.report import Report
from saneloop.tasks import Classify
from saneloop.tracking import Tracker


def saneloop_train_context(model: nn.Module, data: Dataset, steps: int, run_dir: Path, seed: int, lr: float,
                           wd: float, batch: int) -> RunContext:
    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("saneloop", overrides=[
            "+recipe=classify", f"seed={seed}", f"optim.lr={lr}", f"optim.weight_decay={wd}",
            f"loader.train.batch_size={batch}", f"train.max_steps={steps}", "train.epochs=100000",
            "accelerator.cpu=true", "output.figures=false", "gates.loss_decreases.waive='benchmark: synthetic data and a short budget'"])
    report = Report(run_dir, "bench")
    report.start_stage("train")
    runner = GateRunner(lambda: ctx)
    runner.stage = "train"
    ctx = RunContext(cfg=cfg, run_dir=run_dir, report=report, tracker=Tracker(run_dir / "tb", enabled=True),
                     terminal=Terminal(enabled=False), gate=runner, accelerator=Accelerator(cpu=True),
                     task=Classify(10), train_set=data, test_set=data, model=model)
    return ctx


def digits_repeated(times: int = 10, test_size: int = 449, split_seed: int = 0):
    """The default digits with the training set repeated `times` over: how gate cost scales with N."""
    from torch.utils.data import TensorDataset

    from saneloop.datasets import digits
    train, test = digits(test_size=test_size, split_seed=split_seed)
    x, y = train.tensors
    return TensorDataset(x.repeat(times, 1, 1, 1), y.repeat(times)), test
