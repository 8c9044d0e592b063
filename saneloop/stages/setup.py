"""Stage `setup`: seed everything, build data, task and model, check the data, prove determinism.

The data checks cost the same on a thousand items or a million: every target is read (without the
inputs where the dataset stores them), the inputs of a random sample are checked with a stated
guarantee, and epoch 1 of `train` checks every training item (`full_pass`). In-memory tensors are
checked whole, vectorised.
"""

from __future__ import annotations

import os
from functools import partial

import torch
from rich.markup import escape
from torch import nn

from ..checks import BatchInspector, all_classes_present, items_repeat, reproducible, targets_valid
from ..checks.augmentation_off import GATE as AUGMENTATION_OFF
from ..checks.base.verdict import Verdict
from ..checks.classes_present import GATE as CLASSES_PRESENT
from ..checks.determinism import GATE as DETERMINISM
from ..checks.inputs_finite import GATE as INPUTS_FINITE
from ..checks.inputs_finite import judge as finite_verdict
from ..checks.labels_masked import GATE as LABELS_MASKED
from ..checks.labels_masked import padding_labels_ignored
from ..checks.last_batch import GATE as LAST_BATCH
from ..checks.last_batch import last_batch_trains
from ..checks.measure.fitting import train_steps
from ..checks.target_range import GATE as TARGET_RANGE
from ..checks.target_range import targets_in_range
from ..checks.targets import GATE as TARGETS
from ..config.builders import Builders
from ..data import survey
from ..data.loaders import Loaders
from ..data.padding import IGNORE_INDEX
from ..data.seeding import seed_everything
from ..data.summary import DatasetSummary
from ..errors import InputError
from ..models.forward import forward
from ..models.pretrained import Loaded, load_pretrained
from ..models.pretraining import refuse_nothing_trainable
from ..tasks.base import ChecksPairs, Task
from ..tasks.traits import TaskTraits, traits_of
from . import plain_step, setup_adapters, setup_splits, setup_validation
from .context import Built, RunContext
from .setup_contract import (
    HELD_OUT_GATES,
    TEST_GATES,
    gates_to_run,
    refuse_too_few_held_out,
    refuse_unfit_batch,
    sized,
)

NAME = "setup"


def run(ctx: RunContext) -> Built:
    if ctx.settings.threads is not None:
        torch.set_num_threads(int(ctx.settings.threads))
    seed_everything(ctx.seed, ctx.settings.deterministic)
    task = ctx.builders.task()
    traits = traits_of(task)  # read and checked once, before any gate: a trait of the wrong type stops here
    train_set, val_set, test_set = ctx.builders.datasets()  # val_set None: carved from train_set below
    loaders = ctx.builders.loaders(train_set, test_set, ctx.seed, val_set)
    ctx.builders.check_optimizer()  # a bad value under optim.* or scheduler.* is refused before the first gate
    refuse_too_few_held_out(sized(test_set), "test", gates_to_run(ctx.settings, TEST_GATES))
    summaries = _check_data(ctx, task, traits, loaders)  # on the data as given: its item numbers in messages
    copied = setup_splits.run(ctx, task, loaders)  # split_overlap, split_shift, target_leak
    summaries = setup_validation.carved(ctx, loaders, summaries)  # the validation set, if the data has none
    refuse_too_few_held_out(summaries["val"].length, "validation", gates_to_run(ctx.settings, HELD_OUT_GATES))
    loaders.inspect_train = _inspection(ctx, summaries["train"])
    sets = (loaders.train_set, loaders.dataset("val"), loaders.test_set)
    built = Built(task, *sets, summaries["train"], summaries["val"], summaries["test"], loaders, seeded_model(ctx))
    built.copied = copied  # test items with a training copy: their effect on the metric is judged at evaluate
    built.loaded = start_from(ctx, built.model)  # init_from: pretrained weights, before any gate reads the model
    built.model = setup_adapters.adapt(ctx, built.model)  # +peft=lora: adapters on the loaded model
    refuse_nothing_trainable(built.model)  # every parameter frozen: no step could change anything
    _refuse_wrong_output_shape(ctx, built)
    ctx.gates(LAST_BATCH, lambda s: _last_batch(ctx, built))  # before the first training step anywhere
    ctx.gates(DETERMINISM, lambda s: reproducible(lambda: _short_run(ctx, built, s.steps)))
    plain_step.start_ledger(ctx, built)  # one plain step timed: the unit of the training gates' budget
    return built


def _last_batch(ctx: RunContext, built: Built) -> Verdict:
    """The partial batch that ends each epoch, on one process's share of the training set."""
    loaders, processes = built.loaders, ctx.accelerator.num_processes
    items = -(-len(loaders.train_set) // processes)  # type: ignore[arg-type]
    drop = bool(ctx.settings.config.loader.train.get("drop_last", False))
    batch, size = loaders.probe_batch().to(ctx.device), loaders.train_batch_size
    return last_batch_trains(built.model, built.task.loss, batch, items, size, drop, outputs=ctx.outputs)


def _check_data(ctx: RunContext, task: Task, traits: TaskTraits, loaders: Loaders) -> dict[str, DatasetSummary]:
    """Every target first (the first verdicts), then a random sample of the inputs, then repeat reads."""
    sample, pad = ctx.settings.gates.inputs_finite.sample, _pad_value(traits)
    summaries = setup_validation.first_looks(ctx, loaders, sample, pad)
    _refuse_unbatchable_inputs(summaries, loaders)
    _refuse_settings_the_data_cannot_meet(ctx, summaries["train"].length)
    _note_targets(ctx, summaries)
    targets = {split: summary.targets for split, summary in summaries.items()}
    ctx.gates(TARGETS, lambda s: targets_valid(task, targets, _pairs_to_check(task, loaders, s.pairs)))
    held_out = {split: t for split, t in targets.items() if split != "train"}
    present = ctx.gates(CLASSES_PRESENT, lambda s: all_classes_present(task, targets["train"], held_out))
    if present.details.get("unseen"):
        ctx.record.note(f"classes_present: {present.message}")
    ctx.gates(TARGET_RANGE, lambda s: targets_in_range(targets, s))  # every split against training's range
    ctx.gates(LABELS_MASKED, lambda s: padding_labels_ignored(task, loaders.probe(s.batch_size), s.batches))
    summaries = {split: survey.sampled(loaders, split, s, sample, ctx.seed) for split, s in summaries.items()}
    _refuse_unbatchable_inputs(summaries, loaders)
    loaders.inspect_train = _inspection(ctx, summaries["train"])
    ctx.gates(INPUTS_FINITE, lambda s: _finite(summaries))
    datasets = {split: loaders.dataset(split) for split in summaries}
    ctx.gates(AUGMENTATION_OFF, lambda s: items_repeat(datasets, s.items, partial(_items, loaders)))
    return summaries


def _pad_value(traits: TaskTraits) -> int:
    """What pads token labels of different lengths: the task's ignore index (they count nowhere)."""
    return IGNORE_INDEX if traits.ignore_index is None else traits.ignore_index


def seeded_model(ctx: RunContext, builders: Builders | None = None) -> nn.Module:
    """The model as the seed initialises it: the same weights however many gates ran before."""
    seed_everything(ctx.seed, ctx.settings.deterministic)
    return (builders or ctx.builders).model().to(ctx.device)


def start_from(ctx: RunContext, model: nn.Module) -> Loaded | None:
    """Load `init_from.path` into the seeded model, in place, and say which keys loaded (report and console).
    A resumed run loads it too, so its start is the original run's; train then restores the checkpoint."""
    settings = ctx.settings.init_from
    if settings.path is None:
        return None
    if ctx.resumed is not None and not os.path.exists(os.path.expanduser(settings.path)):
        ctx.record.note(f"init_from.path={settings.path} is gone: the resumed run continues from its checkpoint")
        return None
    loaded = load_pretrained(model, settings.path, settings.new, settings.min_loaded)
    ctx.record.note(loaded.summary())
    ctx.record.terminal.print(f"  {escape(loaded.summary())}")
    return loaded


def _short_run(ctx: RunContext, built: Built, steps: int) -> list[float]:
    """A few training steps from scratch (or from init_from's weights), seeded exactly as the real run is."""
    model = setup_adapters.adapt(ctx, seeded_model(ctx), quiet=True)
    if built.loaded is not None or setup_adapters.settings(ctx) is not None:
        model.load_state_dict(built.model.state_dict())  # the weights the run starts from: nothing has trained yet
    optimizer = ctx.builders.optimizer(list(model.parameters()))
    return train_steps(
        model, optimizer, built.task.loss, built.loaders.gate_train(), steps, ctx.device, outputs=ctx.outputs
    )


def _items(loaders: Loaders, split: str, dataset, indices) -> list:
    """The items at `indices`, read as the run reads them (through the split's loader workers)."""
    return [item for chunk in loaders.read(dataset, indices, list, split != "train") for _, item in chunk]


def _finite(summaries: dict[str, DatasetSummary]):
    nonfinite = {split: summary.nonfinite for split, summary in summaries.items()}
    return finite_verdict(nonfinite, {split: (s.checked or s.length, s.length) for split, s in summaries.items()})


def _inspection(ctx: RunContext, train: DatasetSummary) -> BatchInspector | None:
    """Where setup checked only a sample, every training batch a gate reads is checked too (`full_pass`)."""
    settings = ctx.settings.gates.full_pass
    if train.complete or not settings.enabled or settings.waive:
        return None
    return BatchInspector(None if train.targets_from.startswith("the items") else train.targets)


def _note_targets(ctx: RunContext, summaries: dict[str, DatasetSummary]) -> None:
    """Say in the report where the targets came from, when it was not in-memory tensors."""
    for split, summary in summaries.items():
        if summary.targets_from != "tensors":
            ctx.record.note(f"{split} targets ({summary.length:,}) read from {summary.targets_from}")


def _pairs_to_check(task: Task, loaders: Loaders, count: int):
    """For a task that checks (input, target) pairs: `count` samples per split, spread evenly, collated."""
    if not isinstance(task, ChecksPairs):
        return None
    pairs = {}
    for split in ("train", "test") if loaders.val_set is None else ("train", "val", "test"):
        dataset = loaders.dataset(split)
        picks = torch.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().long().unique().tolist()
        batch = loaders.items(dataset, picks, test=split != "train")
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


def _refuse_wrong_output_shape(ctx: RunContext, built: Built) -> None:
    batch = built.loaders.probe_batch().to(ctx.device)
    refuse_unfit_batch(built.model, batch, ctx.builders.model_target, ctx.outputs.model_loss)
    built.model.eval()  # eval: a probe forward must not move BatchNorm statistics
    with torch.no_grad():
        problem = built.task.output_problem(forward(built.model, batch, ctx.outputs), len(batch))
    built.model.train()
    if problem:
        raise InputError(f"{problem}. Fix the model (model._target_={ctx.builders.model_target}) or the task.")
