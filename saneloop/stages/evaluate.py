"""Stage `evaluate`: the whole test set, every example exactly once, metrics with error bars."""

from __future__ import annotations

from ..checks import above_baselines, every_example_once
from ..checks.beats_baselines import GATE as BEATS_BASELINES
from ..checks.eval_repeatable import GATE as EVAL_REPEATABLE
from ..checks.eval_repeatable import repeatable_eval
from ..checks.full_eval import GATE as FULL_EVAL
from ..checks.modes import EVAL_MODE, ModeWatch
from ..engine.loop import predict_all
from ..record.atomic import staged_dir
from ..tasks.traits import traits_of
from . import evaluate_probes
from .context import Built, RunContext, Trained

NAME = "evaluate"


def run(ctx: RunContext, built: Built, trained: Trained) -> None:
    accelerator, task, report = ctx.accelerator, built.task, ctx.record.report
    evaluate_probes.run(ctx, built)  # trained_batch_independence, trained_causality: the probes on trained weights
    loader = accelerator.prepare(built.loaders.test())
    with ModeWatch(trained.model, False, EVAL_MODE.name) as modes:
        outputs, targets, indices = predict_all(trained.model, loader, accelerator, outputs=ctx.outputs)
    ctx.gates(EVAL_MODE, lambda s: modes.verdict())
    ctx.gates(FULL_EVAL, lambda s: every_example_once(indices, len(built.test_set)))
    metrics = task.metrics(outputs, targets)
    ctx.gates(EVAL_REPEATABLE, lambda s: _again(ctx, built, trained, loader, outputs, metrics))
    report.metrics, report.headline = metrics, task.headline()
    report.baselines = _baselines(ctx, built)
    ctx.gates(BEATS_BASELINES, lambda s: _beats(built, report, metrics, s.min_se))
    for name, value in metrics.items():
        ctx.record.scalar(f"test/{name}", float(value), 0)
    _save_weights(ctx, trained)


def _baselines(ctx: RunContext, built: Built) -> dict[str, float]:
    baselines = built.task.baselines(built.train_summary.targets, built.test_summary.targets)
    if ctx.settings.baselines.human is not None:
        baselines["human"] = float(ctx.settings.baselines.human)
    return baselines


def _again(ctx: RunContext, built: Built, trained: Trained, loader, outputs, metrics):
    """The same weights, the same loader, a second full pass: the metrics must not move."""
    again, targets, _ = predict_all(trained.model, loader, ctx.accelerator, outputs=ctx.outputs)
    return repeatable_eval(outputs, again, metrics, built.task.metrics(again, targets))


def _beats(built: Built, report, metrics: dict, min_se: float):
    headline = built.task.headline()
    # A task whose headline metric is an error (lower is better) says so with `higher_is_better = False`.
    return above_baselines(
        headline,
        float(metrics[headline]),
        comparable(report.baselines, headline),
        metrics.get(f"{headline}_se"),
        traits_of(built.task).higher_is_better,
        min_se,
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
            ctx.accelerator.save_model(trained.module, stage, safe_serialization=True)
