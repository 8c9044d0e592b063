"""The whole run, top to bottom: stages in order, each followed by its gates; halt or go on.

    setup -> sanity -> baselines -> overfit -> capacity -> train -> evaluate

The config is read once, into typed settings, before anything runs. A gate that fails (and is not waived) raises
GateHalt: nothing of later stages runs, the report is written, and the run's exit status is EXIT_HALTED (after a data
gate's failure the model probes of `sanity` run first, as findings; with `gates.on_fail=continue` the halt comes after
the last stage, listing every failure: engine/gates.py). `stop_after=STAGE` ends the climb after that stage: status
"stopped", EXIT_PASSED (no gate it ran halted). Both the CLI and the Python API run this.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from omegaconf import DictConfig, OmegaConf
from rich.markup import escape

from ..checks.base.gate import STAGES
from ..config.builders import Builders
from ..config.settings import RunSettings, read_settings
from ..data.seeding import deterministic_cuda_env
from ..engine import distributed, interrupts, launcher, resume, sharding
from ..engine.gates import GateRunner
from ..errors import (
    EXIT_CRASH,
    EXIT_HALTED,
    EXIT_INPUT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_PASSED,
    GateHalt,
    InputError,
    Interrupted,
)
from ..record import run_dir as run_dirs
from ..record.atomic import wait_for_writes
from ..record.report import Report, write_atomic
from ..record.run_dir import RunDirTaken
from ..record.run_record import RunRecord
from ..stages import baselines, capacity, evaluate, overfit, sanity, setup, train
from ..stages.context import RunContext
from .result import RunResult

HYDRA_FILES = (".hydra", "*.log")  # written for this run (by Hydra, or the API) before the pipeline claims its dir


def run(cfg: DictConfig, run_dir: Path) -> RunResult:
    """Run every stage; write report.json/report.md whatever happens; return the outcome. The run dir is
    this run's alone while it runs (the main process holds its lock); another run's is left untouched."""
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # its per-save INFO lines are noise here
    main = distributed.launched_rank() == 0
    try:
        notes = _claim(cfg, run_dir) if main else []
    except RunDirTaken as err:
        return _refused(cfg, run_dir, err, write=False)
    try:
        return _run(cfg, run_dir, notes)
    finally:
        if main:
            run_dirs.release(run_dir)


def _claim(cfg: DictConfig, run_dir: Path) -> list[str]:
    """The run dir's lock; a finished run there refused (or, asked, moved aside: all but the files Hydra
    or the API has just written for this run)."""
    overwrite = bool(OmegaConf.select(cfg, "output.overwrite", default=False))
    return run_dirs.claim(run_dir, overwrite, cfg.get("resume") is not None, keep=HYDRA_FILES)


def _run(cfg: DictConfig, run_dir: Path, notes: list[str]) -> RunResult:
    try:
        settings = read_settings(cfg)  # every value checked before the first gate runs
        sharding.check_launch(settings)  # DeepSpeed and the like: refused, not run silently wrong
    except InputError as err:  # a resumed run's dir keeps the report of the run it continues
        return _refused(cfg, run_dir, err, write=cfg.get("resume") is None)
    accelerator, late = make_accelerator(settings)
    run_dir = distributed.share_run_dir(accelerator, run_dir)  # main's, on every process
    try:  # a refused resume changes nothing in the run it refused
        resumed, resume_notes = resume.load_resumed(
            settings.resume, settings.config, run_dir, accelerator.num_processes
        )
    except InputError as err:
        return _refused(cfg, run_dir, err, write=False)
    record = RunRecord(run_dir, settings.recipe, accelerator.is_main_process, settings.output.figures)
    record.report.notes += distributed.notes(accelerator) + resume_notes + notes + late
    if (shortfall := launcher.fewer_processes_than_asked()) is not None:
        record.note(shortfall)
        record.terminal.print(f"[bold yellow]WARNING[/] {escape(shortfall)}")
    gates = GateRunner(settings.gates, accelerator, record, stop_after=settings.stop_after)
    ctx = RunContext(settings, Builders(cfg), run_dir, record, gates, accelerator)
    if resumed is not None:  # gates passed before the interruption are recorded, not run again
        ctx.resumed, ctx.gates.passed_before = resumed, resume.passed_gates(resumed.payload)
        record.report.checkpoint = {"resumed_from": {"path": str(resumed.path), "step": resumed.step}}
    elif record.main:  # a resumed run keeps the config.yaml it started with
        write_atomic(run_dir / "config.yaml", settings.config_yaml)
    return _guarded(ctx)


def _guarded(ctx: RunContext) -> RunResult:
    """The climb, with every way it can end turned into a status, a report and an exit code."""
    record, accelerator = ctx.record, ctx.accelerator
    code = EXIT_CRASH
    try:
        with interrupts.SignalGuard():  # SIGINT/SIGTERM: checkpoint (in train), report, EXIT_INTERRUPTED
            code = _climb(ctx)
    except GateHalt as halt:
        record.report.status, record.report.halted_at = "halted", {"stage": halt.stage, "gate": halt.verdict.gate}
        code = EXIT_HALTED
    except _StoppedAfter as stop:
        record.report.status = "stopped"
        record.note(f"stopped {_stopped(stop.stage)}")
        code = EXIT_PASSED
    except Interrupted as stop:
        record.report.status = "interrupted"
        record.note(f"{stop}" + (f"; checkpoint saved: {stop.checkpoint}" if stop.checkpoint else ""))
        code = EXIT_INTERRUPTED
    except InputError as err:
        record.report.status, record.report.error = "error", distributed.share_failure(accelerator, str(err), False)
        code = EXIT_INPUT_ERROR  # the message is printed once, by _final_words
    except Exception as err:  # a crash: record it, then let the traceback show
        record.report.status = "error"
        record.report.error = distributed.share_failure(accelerator, f"{type(err).__name__}: {err}")
        record.terminal.print(escape(traceback.format_exc()))  # not markup: gloo errors hold "[...]"
        code = EXIT_CRASH
    finally:
        _finish(ctx, code)
    return result_of(record.report, code)


def _climb(ctx: RunContext) -> int:
    """The recipe, stage by stage; each stage runs its own gates."""
    with _stage(ctx, setup.NAME):
        built = setup.run(ctx)
    with _stage(ctx, sanity.NAME):
        sanity.run(ctx, built)
    with _stage(ctx, baselines.NAME):
        baselines.run(ctx, built)
    with _stage(ctx, overfit.NAME):
        overfit.run(ctx, built)
    with _stage(ctx, capacity.NAME):
        capacity.run(ctx, built)
    with _stage(ctx, train.NAME):
        trained = train.run(ctx, built)
    with _stage(ctx, evaluate.NAME):
        evaluate.run(ctx, built, trained)
    wait_for_writes()  # the end-of-train checkpoint, written while evaluate ran
    ctx.record.report.status = "passed"
    report = ctx.record.report  # the hparams view compares runs: on validation, as the sweeps do
    ctx.record.tracker.hparams(_hparams(ctx.settings), {f"val/{k}": float(v) for k, v in report.val_metrics.items()})
    return EXIT_PASSED


class _StoppedAfter(Exception):
    """The stage `stop_after` names has run: the climb ends there, on purpose (not a failure)."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


def _stopped(stage: str) -> str:
    return f"after stage {stage}, as asked <stop_after={stage}>: no gate halted; the stages after it did not run"


@contextmanager
def _stage(ctx: RunContext, name: str) -> Iterator[None]:
    """One stage: its gates are reported under it, with the seconds it took (also when it halts); the
    last one when `stop_after` names it."""
    ctx.gates.stage = name
    ctx.record.report.start_stage(name)
    start = time.perf_counter()
    try:
        yield
    except Exception as error:  # raised outside a gate: the verdict of the gate that stands for it, if any
        ctx.gates.explained(error, f"stage {name}")
        ctx.gates.cut_short(error, f"stage {name}")  # after a failure the run went on from: halt at it
        raise
    finally:
        ctx.record.report.end_stage(time.perf_counter() - start)
    ctx.gates.end_stage(name, last=name in (ctx.settings.stop_after, STAGES[-1]))  # failures left pending
    if name == ctx.settings.stop_after:
        raise _StoppedAfter(name)


def make_accelerator(settings: RunSettings) -> tuple[Accelerator, list[str]]:
    late = deterministic_cuda_env(settings.deterministic)  # before the Accelerator may start CUDA; a note if too late
    acc = settings.accelerator
    kwargs: dict[str, Any] = {"cpu": acc.cpu, "gradient_accumulation_steps": acc.gradient_accumulation_steps}
    if acc.mixed_precision is not None:
        kwargs["mixed_precision"] = acc.mixed_precision
    kwargs.update(distributed.accelerator_kwargs(acc.timeout_s))
    return Accelerator(**kwargs), [late] if late else []


def result_of(report: Report, code: int) -> RunResult:
    return RunResult(
        report.status,
        code,
        report.run_dir,
        report.halted_at,
        list(report.verdicts),
        dict(report.metrics),
        report.headline,
        report.error,
        report.to_json(),
        dict(report.val_metrics),
    )


def _refused(cfg: DictConfig, run_dir: Path, err: InputError, write: bool = True) -> RunResult:
    """A run refused before anything ran, exit status 2: the report says why (main process only), unless
    the run dir is another run's (`write=False`: the message goes to stderr and the dir stays as it was)."""
    report = Report(run_dir, str(cfg.get("recipe", "unknown")))
    report.status, report.error, report.exit_code = "error", str(err), EXIT_INPUT_ERROR
    if distributed.launched_rank() != 0:  # the main process's run dir holds the report; this one goes
        _remove_if_empty(run_dir)
    else:
        if write:
            report.write()
        from rich.console import Console

        kept = "" if write else " (left as it was)"
        Console(stderr=True, highlight=False).print(
            f"[bold red]ERROR[/] {escape(str(err))}\nrun dir: {run_dir}{kept}  exit status {EXIT_INPUT_ERROR}"
        )
    return result_of(report, EXIT_INPUT_ERROR)


def _remove_if_empty(run_dir: Path) -> None:
    try:
        run_dir.rmdir()  # only ever removes an empty dir (made by this process's Hydra a moment ago)
    except OSError:
        pass


def _finish(ctx: RunContext, code: int) -> None:
    record = ctx.record
    try:
        wait_for_writes()  # a halted or failed run still describes only whole checkpoints
    except OSError as err:
        record.note(str(err))
    record.report.exit_code = code
    if record.report.stages and record.report.stages[-1]["seconds"] is None:
        record.report.end_stage(0.0)
    if record.main:
        record.finish_figures()  # drawn in the background during the run: their notes go in the report
        resume.describe(record.report, ctx.run_dir)
        record.report.write()
        record.terminal.summary(record.report.to_json())
        _final_words(record, ctx.run_dir, code)
    record.close()
    distributed.finish(ctx.accelerator, in_step=code in (EXIT_PASSED, EXIT_HALTED))


def _hparams(settings: RunSettings) -> dict[str, Any]:
    cfg = settings.config
    return {
        "recipe": settings.recipe,
        "seed": settings.seed,
        "model": str(cfg.model._target_),
        "optim": str(cfg.optim._target_),
        "lr": float(cfg.optim.get("lr", 0.0)),
        "batch_size": int(cfg.loader.train.batch_size),
        "epochs": int(settings.train.epochs),
    }


def _final_words(record: RunRecord, run_dir: Path, code: int) -> None:
    report, terminal = record.report, record.terminal
    if report.status == "passed":
        splits = (("validation", report.val_metrics), ("test", report.metrics))
        shown = [f"{split} {_headline(report.headline, metrics)}" for split, metrics in splits]
        terminal.print(f"[bold green]PASSED[/] {'; '.join(shown)}")
    elif report.status == "halted":
        terminal.print(f"[bold red]HALTED[/] at {report.halted_at['stage']}/{report.halted_at['gate']}")
        terminal.failures(report.failures)
    elif report.status == "stopped":
        terminal.print(f"[bold green]STOPPED[/] {_stopped(report.stages[-1]['name'])}")
    elif report.status == "error":
        terminal.print(f"[bold red]ERROR[/] {escape(str(report.error))}")
    elif report.status == "interrupted":
        how = (report.checkpoint or {}).get("resume_command")
        terminal.print(
            f"[bold yellow]INTERRUPTED[/] {report.notes[-1]}"
            + (f"\nresume with: {how}" if how else "\nno checkpoint yet: start the run again")
        )
    terminal.print(f"run dir: {run_dir}  (report.md, TensorBoard: tensorboard --logdir {run_dir})  exit status {code}")


def _headline(name: Any, metrics: dict[str, Any]) -> str:
    """`accuracy 0.9822 ± 0.0062 on 449 examples`: a split's headline, its standard error and its size."""
    value, se = metrics.get(name), metrics.get(f"{name}_se")
    return f"{name} {value:.4f}" + (f" ± {se:.4f}" if se is not None else "") + f" on {metrics.get('count')} examples"
