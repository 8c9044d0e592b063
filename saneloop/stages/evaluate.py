"""Stage `evaluate`: the whole test set, every example exactly once, metrics with error bars."""
from __future__ import annotations

from ..atomic import staged_dir
from ..build import build_test_loader
from ..checks import above_baselines, every_example_once, repeatable_eval
from ..context import RunContext
from ..loop import predict_all

NAME = "evaluate"


def run(ctx: RunContext) -> None:
    accelerator = ctx.accelerator
    loader = accelerator.prepare(build_test_loader(ctx.cfg, ctx.test_set))
    model = ctx.state.get("trained_model", ctx.model)
    outputs, targets, indices = predict_all(model, loader, accelerator)
    ctx.gate("full_eval", lambda s: every_example_once(indices, len(ctx.test_set)))
    metrics = ctx.task.metrics(outputs, targets)
    ctx.gate("eval_repeatable", lambda s: _again(ctx, model, loader, outputs, metrics))
    ctx.report.metrics = metrics
    ctx.report.headline = ctx.task.headline()
    ctx.report.baselines = _baselines(ctx)
    ctx.gate("beats_baselines", lambda s: _beats(ctx, metrics, s.min_se))
    for name, value in metrics.items():
        ctx.tracker.scalar(f"test/{name}", float(value), 0)
    _save_weights(ctx, model)


def _baselines(ctx: RunContext) -> dict[str, float]:
    baselines = ctx.task.baselines(ctx.train_summary.targets, ctx.test_summary.targets)
    if ctx.cfg.baselines.human is not None:
        baselines["human"] = float(ctx.cfg.baselines.human)
    return baselines


def _again(ctx: RunContext, model, loader, outputs, metrics):
    """The same weights, the same loader, a second full pass: the metrics must not move."""
    again, targets, _ = predict_all(model, loader, ctx.accelerator)
    return repeatable_eval(outputs, again, metrics, ctx.task.metrics(again, targets))


def _beats(ctx: RunContext, metrics: dict, min_se: float):
    headline = ctx.task.headline()
    # A task whose headline metric is an error (lower is better) says so with `higher_is_better = False`.
    higher = bool(getattr(ctx.task, "higher_is_better", True))
    return above_baselines(headline, float(metrics[headline]), comparable(ctx.report.baselines, headline),
                           metrics.get(f"{headline}_se"), higher, min_se)


def comparable(baselines: dict[str, float], headline: str) -> dict[str, float]:
    """The baselines in the headline metric's units: `<name>_<headline>` (e.g. `mean_r2`,
    `chance_auroc`), or a bare `<name>` (`chance`, `majority`, `human`), which means the headline.
    Baselines of other metrics (`mean_rmse`) are reported but not compared with the headline."""
    return {k: v for k, v in baselines.items() if k.endswith(f"_{headline}") or "_" not in k}


def _save_weights(ctx: RunContext, model) -> None:
    if ctx.cfg.output.save_weights:
        ctx.accelerator.wait_for_everyone()
        # model.safetensors, written by the main process only; it appears whole or not at all
        with staged_dir(ctx.run_dir) as stage:
            ctx.accelerator.save_model(model, stage, safe_serialization=True)
