"""Stage `setup`: seed everything, build data, task and model, check the data, prove determinism."""

from __future__ import annotations

import torch
from torch import nn

from ..checks import all_classes_present, items_repeat, reproducible, targets_valid
from ..checks.fitting import train_steps
from ..checks.inputs_finite import judge as finite_verdict
from ..checks.labels_masked import padding_labels_ignored
from ..config.components import Components
from ..data.loaders import Loaders
from ..data.padding import IGNORE_INDEX
from ..data.seeding import seed_everything
from ..data.summary import DatasetSummary, summarize
from ..errors import InputError
from ..tasks.base import ChecksPairs, Task
from . import split_checks
from .context import Prepared, RunContext
from .contract import refuse_unfit_batch

NAME = "setup"


def run(ctx: RunContext) -> Prepared:
    if ctx.settings.threads is not None:
        torch.set_num_threads(int(ctx.settings.threads))
    seed_everything(ctx.seed, ctx.settings.deterministic)
    task = ctx.components.task()
    train_set, test_set = ctx.components.datasets()
    fmt = ctx.components.batch_format()
    loaders = ctx.components.loaders(train_set, test_set, ctx.seed)
    pad = getattr(task, "ignore_index", None)
    pad = IGNORE_INDEX if pad is None else int(pad)
    train_summary = summarize(train_set, "train", fmt, loaders.train_collate, pad)
    test_summary = summarize(test_set, "test", fmt, loaders.test_collate, pad)
    _refuse_unbatchable_inputs({"train": train_summary, "test": test_summary}, loaders)
    _refuse_settings_the_data_cannot_meet(ctx, len(train_set))

    targets = {"train": train_summary.targets, "test": test_summary.targets}
    ctx.gates("targets", lambda s: targets_valid(task, targets, _pairs_to_check(task, loaders, s.pairs)))
    present = ctx.gates("classes_present", lambda s: all_classes_present(task, train_summary.targets))
    if present.details.get("unseen"):
        ctx.record.note(f"classes_present: {present.message}")
    ctx.gates("labels_masked", lambda s: padding_labels_ignored(task, loaders.probe(s.batch_size), s.batches))
    ctx.gates(
        "inputs_finite", lambda s: finite_verdict({"train": train_summary.nonfinite, "test": test_summary.nonfinite})
    )
    ctx.gates("augmentation_off", lambda s: items_repeat({"train": train_set, "test": test_set}, s.items))
    split_checks.run(ctx, task, loaders)  # split_overlap, split_shift, target_leak

    prep = Prepared(task, train_set, test_set, train_summary, test_summary, loaders, seeded_model(ctx))
    _refuse_wrong_output_shape(ctx, prep)
    ctx.gates("determinism", lambda s: reproducible(lambda: _short_run(ctx, prep, s.steps)))
    return prep


def seeded_model(ctx: RunContext, components: Components | None = None) -> nn.Module:
    """The model as the seed initialises it: the same weights however many gates ran before."""
    seed_everything(ctx.seed, ctx.settings.deterministic)
    return (components or ctx.components).model().to(ctx.device)


def _short_run(ctx: RunContext, prep: Prepared, steps: int) -> list[float]:
    """A few training steps from scratch, seeded exactly as the real run is."""
    model = seeded_model(ctx)
    optimizer = ctx.components.optimizer(list(model.parameters()))
    return train_steps(model, optimizer, prep.task.loss, prep.loaders.train(), steps, ctx.device)


def _pairs_to_check(task: Task, loaders: Loaders, count: int):
    """For a task that checks (input, target) pairs: `count` samples per split, spread evenly, collated."""
    if not isinstance(task, ChecksPairs):
        return None
    pairs = {}
    for split, dataset, test in (("train", loaders.train_set, False), ("test", loaders.test_set, True)):
        picks = torch.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().long().unique().tolist()
        batch = loaders.items(dataset, picks, test=test)
        pairs[split] = (picks, batch.first_input, batch.targets)
    return pairs


def _refuse_unbatchable_inputs(summaries: dict[str, DatasetSummary], loaders: Loaders) -> None:
    for split, summary in summaries.items():
        if len(summary.input_shapes) > 1 and loaders.train_collate is None:
            shapes = sorted(summary.input_shapes)[:5]
            raise InputError(
                f"{split} inputs have varying shapes {shapes} and cannot be batched by the default "
                "collate; pad or crop them in the dataset, or give loader.train.collate_fn (a padding "
                "collator; the test loader uses it too unless loader.test.collate_fn is set)"
            )


def _refuse_settings_the_data_cannot_meet(ctx: RunContext, train_size: int) -> None:
    """Settings whose range depends on the data, checked as soon as the data is built (before any gate)."""
    overfit = ctx.settings.gates.overfit
    if overfit.enabled and overfit.batch_size > train_size:
        raise InputError(
            f"gates.overfit.batch_size={overfit.batch_size} is larger than the training set "
            f"({train_size} examples); lower it"
        )


def _refuse_wrong_output_shape(ctx: RunContext, prep: Prepared) -> None:
    batch = prep.loaders.probe_batch().to(ctx.device)
    refuse_unfit_batch(prep.model, batch, ctx.components.model_target)
    prep.model.eval()  # eval: a probe forward must not move BatchNorm statistics
    with torch.no_grad():
        problem = prep.task.output_problem(batch.forward(prep.model), len(batch))
    prep.model.train()
    if problem:
        raise InputError(f"{problem}. Fix the model (model._target_={ctx.components.model_target}) or the task.")
