"""Stage `evaluate`: the validation set (what decides: the gates here, a sweep's objective), then the test
set, once, at the end: every example of each exactly once, metrics with error bars, each named for its
split (report.json `val_metrics` and `metrics`)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, NamedTuple

import torch
from torch.utils.data import SequentialSampler

from ..checks import above_baselines, every_example_once
from ..checks.base.verdict import Verdict
from ..checks.beats_baselines import GATE as BEATS_BASELINES
from ..checks.ceiling_explained import GATE as CEILING_EXPLAINED
from ..checks.ceiling_explained import ceiling_search
from ..checks.contamination import GATE as CONTAMINATION
from ..checks.contamination import copies_inflate, copy_metrics
from ..checks.eval_repeatable import GATE as EVAL_REPEATABLE
from ..checks.eval_repeatable import first_rows, repeatable_eval
from ..checks.full_eval import GATE as FULL_EVAL
from ..checks.modes import EVAL_MODE, ModeWatch
from ..data.sample import read_split
from ..data.summary import DatasetSummary
from ..engine.loop import predict_all
from ..models.adapters import merged
from ..record.atomic import staged_dir
from ..tasks.traits import traits_of
from . import evaluate_probes
from .context import Built, RunContext, Trained

NAME = "evaluate"
SPLITS = {"val": "validation", "test": "test"}  # the order they are evaluated in, and their names in messages


class Predictions(NamedTuple):
    """One evaluation split's full pass: the prepared loader, and outputs, targets, indices by dataset index."""

    loader: Any
    outputs: torch.Tensor
    targets: torch.Tensor
    indices: torch.Tensor


def run(ctx: RunContext, built: Built, trained: Trained) -> None:
    task, report, began = built.task, ctx.record.report, time.perf_counter()
    evaluate_probes.run(ctx, built)  # trained_batch_independence, trained_causality: the probes on trained weights
    with ModeWatch(trained.model, False, EVAL_MODE.name) as modes:
        evaluating = time.perf_counter()
        found = {split: _predict(ctx, built, trained, split) for split in SPLITS}
        evaluation_s = time.perf_counter() - evaluating
    ctx.gates(EVAL_MODE, lambda s: modes.verdict())
    ctx.gates(FULL_EVAL, lambda s: _every_example_once(built, found))
    val, test = (task.metrics(found[split].outputs, found[split].targets) for split in SPLITS)
    ctx.gates(EVAL_REPEATABLE, lambda s: _again(ctx, built, trained, found["val"], s))
    report.val_metrics, report.metrics, report.headline = val, test, task.headline()
    report.direction = "maximize" if traits_of(task).higher_is_better else "minimize"
    report.val_baselines = _baselines(ctx, built, built.val_summary)
    report.baselines = _baselines(ctx, built, built.test_summary)
    ctx.gates(BEATS_BASELINES, lambda s: _beats(built, report, s.min_se, s.power))
    ctx.gates(
        CEILING_EXPLAINED, lambda s: ceiling_search(report.headline, test.get(report.headline), _samples(ctx, built), s)
    )
    ctx.gates(CONTAMINATION, lambda s: _copies(built, found["test"], report, s))
    _log(ctx, val, test, len(trained.losses))
    _cost(report, time.perf_counter() - began - evaluation_s, evaluation_s)
    _save_weights(ctx, trained)


def _cost(report: Any, checks_s: float, evaluation_s: float) -> None:
    """What the checks at evaluate cost beside the evaluation itself (both splits, once): report.json `cost`."""
    report.cost["evaluation_s"], report.cost["evaluate_checks_s"] = round(evaluation_s, 3), round(checks_s, 3)
    report.cost["evaluate_checks_share_of_eval"] = round(checks_s / max(evaluation_s, 1e-9), 4)


def _samples(ctx: RunContext, built: Built):
    """The training and test samples setup's split gates read (the same bound and seed), read when asked."""
    limit = ctx.settings.gates.split_overlap.max_items
    return lambda: tuple(read_split(built.loaders, split, limit, ctx.seed) for split in ("train", "test"))


def _copies(built: Built, test: Predictions, report: Any, settings: Any) -> Verdict:
    """The test items with a training copy against the rest; both metrics go in the report, halt or not."""
    verdict = copies_inflate(built.task, test.outputs, test.targets, test.indices, list(built.copied or ()), settings)
    report.contamination = copy_metrics(verdict)
    return verdict


def _log(ctx: RunContext, val: dict[str, Any], test: dict[str, Any], step: int) -> None:
    """TensorBoard: `val/*` at the last step, beside the loss curve's `val/loss` (whose last point is this
    model's: not written twice), and `test/*`."""
    curve = ctx.settings.train.full_evals > 0
    for name, value in val.items():
        if not (curve and name == "loss"):
            ctx.record.scalar(f"val/{name}", float(value), step)
    for name, value in test.items():
        ctx.record.scalar(f"test/{name}", float(value), 0)


def _predict(ctx: RunContext, built: Built, trained: Trained, split: str) -> Predictions:
    loader = ctx.accelerator.prepare(built.loaders.evaluation(split))
    return Predictions(loader, *predict_all(trained.model, loader, ctx.accelerator, outputs=ctx.outputs))


def _every_example_once(built: Built, found: dict[str, Predictions]) -> Verdict:
    """Both splits, each example once: the first split that fails, or one pass naming both (the value and
    expected count are the test set's)."""
    sizes = {"val": len(built.val_set), "test": len(built.test_set)}  # type: ignore[arg-type]
    verdicts = {split: every_example_once(found[split].indices, sizes[split]) for split in ("test", "val")}
    for split, verdict in verdicts.items():
        if not verdict.passed:
            return replace(verdict, message=verdict.message.replace(" test ", f" {SPLITS[split]} "))
    both = " and ".join(f"{sizes[s]:,} {SPLITS[s]}" for s in SPLITS)
    return replace(verdicts["test"], message=f"all {both} examples, once each", details={"val": sizes["val"]})


def _baselines(ctx: RunContext, built: Built, split: DatasetSummary) -> dict[str, float]:
    """The task's baselines scored on `split` (rules fitted on the training targets), and a human's figure."""
    baselines = built.task.baselines(built.train_summary.targets, split.targets)
    if ctx.settings.baselines.human is not None:
        baselines["human"] = float(ctx.settings.baselines.human)
    return baselines


def _again(ctx: RunContext, built: Built, trained: Trained, first: Predictions, settings: Any) -> Verdict:
    """The same weights, the first validation batches again (`max_items`): outputs and metrics must not move."""
    loader = _first_batches(ctx, built, first.loader, settings.max_items)
    again, targets, indices = predict_all(trained.model, loader, ctx.accelerator, outputs=ctx.outputs)
    before, before_targets = first_rows(first.outputs, first.targets, first.indices, indices, again)
    metrics = built.task.metrics
    return repeatable_eval(before, again, metrics(before, before_targets), metrics(again, targets))


def _first_batches(ctx: RunContext, built: Built, loader: Any, items: Any) -> Any:
    """The validation loader cut to its first whole batches holding `items` (a multiple of the process count,
    so each process gets the batches it had); the loader itself when it shuffles or `items` covers it."""
    raw = built.loaders.evaluation("val")
    size, batch = len(raw.dataset), raw.batch_size or 1
    step = batch * ctx.accelerator.num_processes
    count = -(-items // step) * step if items is not None else size
    if count >= size or not isinstance(raw.sampler, SequentialSampler):
        return loader
    return ctx.accelerator.prepare(built.loaders.evaluation("val", range(count)))


def _beats(built: Built, report: Any, min_se: float, power: float = 0.0) -> Verdict:
    """The validation headline against the baselines on the validation set (the judgement); then the test
    headline against the test set's, which chooses nothing: a test set no better than a rule that ignores
    the inputs, while validation is, is a broken test split (labels out of step with the inputs)."""
    judged = _above(built, "validation", report.val_metrics, report.val_baselines, min_se, power)
    if not judged.passed:
        return judged
    test = _above(built, "test", report.metrics, report.baselines, min_se, power)
    if test.passed:
        return judged
    return replace(test, message=f"{test.message} Validation passed: look at the test split itself.")


def _above(
    built: Built, split: str, metrics: dict[str, Any], baselines: dict[str, float], min_se: float, power: float
) -> Verdict:
    headline = built.task.headline()
    # A task whose headline metric is an error (lower is better) says so with `higher_is_better = False`.
    return above_baselines(
        f"{split} {headline}",
        float(metrics[headline]),
        comparable(baselines, headline),
        metrics.get(f"{headline}_se"),
        traits_of(built.task).higher_is_better,
        min_se,
        power,
    )


def comparable(baselines: dict[str, float], headline: str) -> dict[str, float]:
    """The baselines in the headline metric's units: `<name>_<headline>` (e.g. `mean_r2`,
    `chance_auroc`), or a bare `<name>` (`chance`, `majority`, `human`), which means the headline.
    Baselines of other metrics (`mean_rmse`) are reported but not compared with the headline."""
    return {k: v for k, v in baselines.items() if k.endswith(f"_{headline}") or "_" not in k}


def _save_weights(ctx: RunContext, trained: Trained) -> None:
    if ctx.settings.output.save_weights:
        ctx.accelerator.wait_for_everyone()
        # model.safetensors, written by the main process only; it appears whole or not at all
        with staged_dir(ctx.run_dir) as stage:
            # an adapted model (+peft=lora) is saved merged: the bare model's keys, what init_from reads
            weights = merged(ctx.accelerator.unwrap_model(trained.module))
            ctx.accelerator.save_model(weights, stage, safe_serialization=True)
