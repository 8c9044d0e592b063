"""The whole run, top to bottom: stages in order, each followed by its gates; halt or go on.

    setup -> sanity -> baselines -> overfit -> capacity -> train -> evaluate

A gate that fails (and is not waived) raises GateHalt: nothing of later stages runs, the report
is written, and the process exits with EXIT_HALTED.
"""
from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from accelerate import Accelerator
from omegaconf import DictConfig, OmegaConf
from rich.markup import escape

from . import distributed, interrupts, resume, stages
from .checks.verdict import Verdict, skipped
from .console import Terminal
from .context import RunContext
from .errors import (EXIT_CRASH, EXIT_HALTED, EXIT_INPUT_ERROR, EXIT_INTERRUPTED, EXIT_PASSED, GateHalt, InputError,
                     Interrupted)
from .report import Report, write_atomic
from .tracking import Tracker


class GateRunner:
    """Runs one gate: honours `enabled` and `waive`, agrees on the verdict across processes, records
    and logs it, halts on failure."""

    def __init__(self, ctx_getter: Callable[[], RunContext]) -> None:
        self._ctx = ctx_getter
        self.stage = ""
        self.passed_before: dict[str, Verdict] = {}  # a resumed run's gates, passed before it stopped

    def __call__(self, name: str, compute: Callable[[Any], Verdict]) -> Verdict:
        ctx = self._ctx()
        settings = OmegaConf.to_object(ctx.cfg.gates[name])
        start = time.perf_counter()
        if name in self.passed_before:  # recorded as passed before the resume, not run again
            verdict = self.passed_before[name]
        else:
            verdict = distributed.agree(ctx.accelerator, f"{self.stage}/{name}",
                                        lambda: _decide(name, settings, compute))
        ctx.report.record(verdict, time.perf_counter() - start)
        ctx.tracker.gate(verdict)
        ctx.terminal.verdict(self.stage, verdict)
        if verdict.status == "failed":
            raise GateHalt(self.stage, verdict)
        return verdict


def _decide(name: str, settings: Any, compute: Callable[[Any], Verdict]) -> Verdict:
    if not settings.enabled:
        return skipped(name, f"turned off <gates.{name}.enabled=false>")
    verdict = compute(settings)
    if not verdict.passed and settings.waive:
        verdict = verdict.waived(settings.waive)
    return verdict


def make_accelerator(cfg: DictConfig) -> Accelerator:
    kwargs: dict[str, Any] = {"cpu": cfg.accelerator.cpu,
                              "gradient_accumulation_steps": cfg.accelerator.gradient_accumulation_steps}
    if cfg.accelerator.mixed_precision is not None:
        kwargs["mixed_precision"] = cfg.accelerator.mixed_precision
    kwargs.update(distributed.accelerator_kwargs(cfg))
    return Accelerator(**kwargs)


def run(cfg: DictConfig, run_dir: Path) -> int:
    """Run every stage; write report.json/report.md whatever happens; return the exit status."""
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # its per-save INFO lines are noise here
    accelerator = make_accelerator(cfg)
    run_dir = distributed.share_run_dir(accelerator, run_dir)  # main's, on every process
    main = accelerator.is_main_process
    report = Report(run_dir, str(cfg.recipe))
    report.notes += distributed.notes(accelerator)
    terminal = Terminal(enabled=main)
    runner = GateRunner(lambda: ctx)
    ctx = RunContext(cfg=cfg, run_dir=run_dir, report=report, terminal=terminal, gate=runner,
                     tracker=Tracker(run_dir / "tensorboard", enabled=main), accelerator=accelerator)
    if main and cfg.get("resume") is None:  # a resumed run keeps the config.yaml it started with
        write_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    code = EXIT_CRASH
    try:
        with interrupts.SignalGuard():  # SIGINT/SIGTERM: checkpoint (in train), report, EXIT_INTERRUPTED
            code = _climb(ctx, runner)
    except GateHalt as halt:
        report.status, report.halted_at = "halted", {"stage": halt.stage, "gate": halt.verdict.gate}
        code = EXIT_HALTED
    except Interrupted as stop:
        report.status = "interrupted"
        report.notes.append(f"{stop}" + (f"; checkpoint saved: {stop.checkpoint}" if stop.checkpoint else ""))
        code = EXIT_INTERRUPTED
    except InputError as err:
        report.status, report.error = "error", distributed.share_failure(accelerator, str(err), False)
        code = EXIT_INPUT_ERROR  # the message is printed once, by _final_words
    except Exception as err:  # a crash: record it, then let the traceback show
        report.status, report.error = "error", distributed.share_failure(accelerator, f"{type(err).__name__}: {err}")
        terminal.print(escape(traceback.format_exc()))  # not markup: gloo errors hold "[...]"
        code = EXIT_CRASH
    finally:
        if report.stages and report.stages[-1]["seconds"] is None:
            report.end_stage(time.perf_counter() - ctx.state.get("_stage_start", time.perf_counter()))
        if main:
            resume.describe(ctx)
            report.write()
            terminal.summary(report.to_json())
            _final_words(ctx, code)
        ctx.tracker.close()
        distributed.finish(accelerator, in_step=code in (EXIT_PASSED, EXIT_HALTED))
    return code


def _climb(ctx: RunContext, runner: GateRunner) -> int:
    resume.prepare(ctx, runner)  # resume=RUN_DIR: load its checkpoint, or refuse saying why
    for stage in stages.ORDER:
        runner.stage = stage.NAME
        ctx.report.start_stage(stage.NAME)
        ctx.state["_stage_start"] = start = time.perf_counter()
        stage.run(ctx)
        ctx.report.end_stage(time.perf_counter() - start)
    ctx.report.status = "passed"
    ctx.tracker.hparams(_hparams(ctx.cfg), {k: float(v) for k, v in ctx.report.metrics.items()})
    return EXIT_PASSED


def _hparams(cfg: DictConfig) -> dict[str, Any]:
    return {"recipe": str(cfg.recipe), "seed": int(cfg.seed), "model": str(cfg.model._target_),
            "optim": str(cfg.optim._target_), "lr": float(cfg.optim.get("lr", 0.0)),
            "batch_size": int(cfg.loader.train.batch_size), "epochs": int(cfg.train.epochs)}


def _final_words(ctx: RunContext, code: int) -> None:
    report, terminal = ctx.report, ctx.terminal
    if report.status == "passed":
        headline = ctx.task.headline()
        value, se = report.metrics.get(headline), report.metrics.get(f"{headline}_se")
        shown = f"{value:.4f}" + (f" ± {se:.4f}" if se is not None else "")
        terminal.print(f"[bold green]PASSED[/] test {headline} {shown} on {report.metrics.get('count')} examples")
    elif report.status == "halted":
        terminal.print(f"[bold red]HALTED[/] at {report.halted_at['stage']}/{report.halted_at['gate']}")
    elif report.status == "error":
        terminal.print(f"[bold red]ERROR[/] {escape(str(report.error))}")
    elif report.status == "interrupted":
        how = (report.checkpoint or {}).get("resume_command")
        terminal.print(f"[bold yellow]INTERRUPTED[/] {report.notes[-1]}" +
                       (f"\nresume with: {how}" if how else "\nno checkpoint yet: start the run again"))
    terminal.print(f"run dir: {ctx.run_dir}  (report.md, TensorBoard: tensorboard --logdir {ctx.run_dir})"
                   f"  exit status {code}")
