"""Stage `setup`: seed everything, build data, task and model, check the data, prove determinism."""
from __future__ import annotations

import torch
from torch.utils.data import default_collate

from ..build import build_datasets, build_model, build_optimizer, build_task, build_train_loader
from ..checks import all_classes_present, all_finite, identical_losses, items_repeat, targets_valid
from ..context import RunContext
from ..dataset_summary import summarize
from ..errors import InputError
from ..loop import plain_steps, to_device
from ..seeding import seed_everything
from ..tasks.base import ChecksPairs

NAME = "setup"


def run(ctx: RunContext) -> None:
    if ctx.cfg.threads is not None:
        if int(ctx.cfg.threads) < 1:
            raise InputError(f"threads={ctx.cfg.threads} must be at least 1 (or null for torch's default)")
        torch.set_num_threads(int(ctx.cfg.threads))
    seed_everything(ctx.seed, ctx.cfg.deterministic)
    ctx.task = build_task(ctx.cfg)
    ctx.train_set, ctx.test_set = build_datasets(ctx.cfg)
    ctx.train_summary = summarize(ctx.train_set, "train")
    ctx.test_summary = summarize(ctx.test_set, "test")
    _refuse_unbatchable_inputs(ctx)

    targets = {"train": ctx.train_summary.targets, "test": ctx.test_summary.targets}
    ctx.gate("targets", lambda s: targets_valid(ctx.task, targets, _pairs_to_check(ctx, s.pairs)))
    ctx.gate("classes_present", lambda s: all_classes_present(ctx.task, ctx.train_summary.targets))
    ctx.gate("inputs_finite", lambda s: all_finite({"train": ctx.train_summary.nonfinite,
                                                    "test": ctx.test_summary.nonfinite}))
    ctx.gate("augmentation_off", lambda s: items_repeat({"train": ctx.train_set, "test": ctx.test_set}, s.items))

    ctx.model = _seeded_model(ctx)
    _refuse_wrong_output_shape(ctx)
    ctx.gate("determinism", lambda s: identical_losses(_short_run(ctx, s.steps), _short_run(ctx, s.steps)))


def _seeded_model(ctx: RunContext):
    """The model as the seed initialises it: the same weights however many gates ran before."""
    seed_everything(ctx.seed, ctx.cfg.deterministic)
    return build_model(ctx.cfg).to(ctx.device)


def _short_run(ctx: RunContext, steps: int) -> list[float]:
    """A few training steps from scratch, seeded exactly as the real run is."""
    model = _seeded_model(ctx)
    optimizer = build_optimizer(ctx.cfg, list(model.parameters()))
    loader = build_train_loader(ctx.cfg, ctx.train_set, ctx.seed)
    return plain_steps(model, optimizer, ctx.task, loader, steps, ctx.device)


def _pairs_to_check(ctx: RunContext, count: int) -> dict[str, tuple[list[int], torch.Tensor, torch.Tensor]] | None:
    """For a task that checks (input, target) pairs: `count` samples per split, spread evenly, stacked."""
    if not isinstance(ctx.task, ChecksPairs):
        return None
    collate, pairs = ctx.cfg_collate() or default_collate, {}
    for split, dataset in (("train", ctx.train_set), ("test", ctx.test_set)):
        picks = torch.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().long().unique().tolist()
        inputs, targets = collate([tuple(dataset[i]) for i in picks])
        pairs[split] = (picks, inputs, targets)
    return pairs


def _refuse_unbatchable_inputs(ctx: RunContext) -> None:
    for split, summary in (("train", ctx.train_summary), ("test", ctx.test_summary)):
        if len(summary.input_shapes) > 1 and ctx.cfg.loader.train.get("collate_fn") is None:
            shapes = sorted(summary.input_shapes)[:5]
            raise InputError(f"{split} inputs have varying shapes {shapes} and cannot be batched by the default "
                             "collate; pad or crop them in the dataset, or give loader.train.collate_fn and "
                             "loader.test.collate_fn")


def _refuse_wrong_output_shape(ctx: RunContext) -> None:
    inputs, _ = to_device(next(iter(ctx.probe_loader())), ctx.device)
    ctx.model.eval()  # eval: a probe forward must not move BatchNorm statistics
    with torch.no_grad():
        problem = ctx.task.output_problem(ctx.model(inputs), len(inputs))
    ctx.model.train()
    if problem:
        raise InputError(f"{problem}. Fix the model (model._target_={ctx.cfg.model._target_}) or the task.")
