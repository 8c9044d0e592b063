"""Build the context saneloop's `train` stage runs in, outside the full pipeline (for benchmarks).

Figures are off here: they are drawn once after the last step (a fixed cost, reported with the
other fixed costs), not per step.
"""

from __future__ import annotations

from pathlib import Path

from accelerate import Accelerator
from torch import nn
from torch.utils.data import Dataset

from saneloop.config import Builders, read_settings
from saneloop.data.summary import summarize
from saneloop.engine.gates import GateRunner
from saneloop.record.run_record import RunRecord
from saneloop.runner import compose_config
from saneloop.stages.context import Built, RunContext
from saneloop.tasks import Classify


def saneloop_train_context(
    model: nn.Module,
    data: Dataset,
    steps: int,
    run_dir: Path,
    seed: int,
    lr: float,
    wd: float,
    batch: int,
    progress: bool = True,
    cpu: bool = True,
) -> tuple[RunContext, Built]:
    """The run context and the setup stage's result, as the pipeline hands them to `train.run`."""
    cfg, _ = compose_config(
        "classify",
        [
            f"seed={seed}",
            f"optim.lr={lr}",
            f"optim.weight_decay={wd}",
            f"loader.train.batch_size={batch}",
            f"train.max_steps={steps}",
            "train.epochs=100000",
            f"accelerator.cpu={str(cpu).lower()}",
            "output.figures=false",
            # The loss curve's full-set test evaluations (train.full_evals) are evaluation work, not the
            # loop's: here the "test set" is the training data, 5 passes over it. Off, so the ratio is the
            # framework's own cost per step; bench_fixed_costs.py times them within the whole run.
            "train.full_evals=0",
            f"output.progress={str(progress).lower()}",
            "gates.loss_decreases.waive='benchmark: synthetic data and a short budget'",
        ],
    )
    settings, builders = read_settings(cfg), Builders(cfg)
    _ = settings.config_yaml  # the pipeline wrote config.yaml before any stage ran: the YAML is made by then
    record = RunRecord(run_dir, "bench", main=True, figures=False)
    record.report.start_stage("train")
    accelerator = Accelerator(cpu=cpu)
    gates = GateRunner(settings.gates, accelerator, record)
    gates.stage = "train"
    ctx = RunContext(settings, builders, run_dir, record, gates, accelerator)
    summary = summarize(data, "train")  # what setup hands train: every item checked (in-memory tensors)
    loaders = builders.loaders(data, data, seed, data)
    built = Built(Classify(10), data, data, data, summary, summary, summary, loaders, model)
    return ctx, built


def digits_repeated(times: int = 10, test_size: int = 449, split_seed: int = 0):
    """The default digits with the training set repeated `times` over: how gate cost scales with N."""
    from torch.utils.data import TensorDataset

    from saneloop.datasets import digits

    train, test = digits(test_size=test_size, split_seed=split_seed)
    x, y = train.tensors
    return TensorDataset(x.repeat(times, 1, 1, 1), y.repeat(times)), test
