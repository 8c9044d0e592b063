"""`resume=RUN_DIR`: continue a run in place from its latest complete checkpoint.

The CLI half (`resume_argv`) composes the same config again: the run's original overrides (from
RUN_DIR/.hydra/overrides.yaml) and its `--config-dir`, then the overrides given now, with the
run dir set to RUN_DIR. Hydra is told not to rewrite RUN_DIR/.hydra, and the pipeline keeps
config.yaml, so both go on describing the run as it was started.

The pipeline half (`prepare`) loads the checkpoint, refuses one written with another config
(naming every key that differs), and hands the gates passed before to the GateRunner, which
records them without running them again. `describe` tells the report where the latest
checkpoint is and how to resume from it.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

from . import checkpoint
from .checks.verdict import Verdict
from .errors import InputError

# Keys that may differ between a checkpoint's config and the resumed run's: they change neither
# the numbers nor the data order.
MAY_DIFFER = ("resume", "output.progress", "output.save_weights", "checkpoint.")
RESUME_COMMAND = "python -m saneloop resume={run_dir}"
NOT_RUN_AGAIN = "[passed before resume; not run again]"
_OVERRIDE = re.compile(r"^(?:~|\+\+|\+)?([\w.@/-]+)=")  # Hydra's [~|+|++]key=value
_PLAIN = re.compile(r"^[\w./:@%+~-]+$")


def override_key(arg: str) -> Optional[str]:
    match = None if arg.startswith("-") else _OVERRIDE.match(arg)
    return match.group(1) if match else None


def override_value(arg: str) -> str:
    return arg.split("=", 1)[1].strip().strip("'\"")


def _quoted(value: str) -> str:
    return value if _PLAIN.match(value) else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def resume_argv(argv: list[str]) -> list[str]:
    """The command line that composes a resumed run (argv unchanged unless it holds `resume=DIR`)."""
    asked = [a for a in argv if override_key(a) == "resume"]
    if not asked or override_value(asked[-1]) in ("", "null", "None"):
        return argv
    given = override_value(asked[-1])
    run_dir = Path(given).expanduser().resolve()
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    if not overrides_file.is_file():
        where = "does not exist" if not run_dir.exists() else "has no .hydra/overrides.yaml"
        raise InputError(f"resume={given}: {run_dir} {where}, so it is not a saneloop run dir. Give the run dir "
                         "printed at the end of the run to continue (`run dir: ...`)")
    for arg in argv:
        if override_key(arg) == "hydra.run.dir" and Path(override_value(arg)).expanduser().resolve() != run_dir:
            raise InputError(f"resume={given} continues that run in its own dir; drop {arg}")
    now = [a for a in argv if override_key(a) not in (None, "resume", "hydra.run.dir")]
    now_keys = {override_key(a) for a in now}
    before = [str(o) for o in OmegaConf.load(overrides_file)
              if override_key(str(o)) not in now_keys | {"resume", "hydra.run.dir", "hydra.output_subdir"}]
    flags = [a for a in argv if override_key(a) is None]
    return (flags + _config_dir_flag(run_dir, flags) + before + now +
            [f"resume={_quoted(str(run_dir))}", f"hydra.run.dir={_quoted(str(run_dir))}", "hydra.output_subdir=null"])


def _config_dir_flag(run_dir: Path, flags: list[str]) -> list[str]:
    """The `--config-dir` the run was started with, unless one is given now."""
    hydra_file = run_dir / ".hydra" / "hydra.yaml"
    if not hydra_file.is_file():
        return []
    runtime = OmegaConf.load(hydra_file).hydra.runtime
    if runtime.get("cwd") and Path(runtime.cwd).resolve() != Path.cwd().resolve():
        print(f"saneloop: note: {run_dir} was started from {runtime.cwd}; if its _target_s import from "
              "there, resume from there", file=sys.stderr)
    if any(f in ("--config-dir", "-cd") or f.startswith("--config-dir=") for f in flags):
        return []
    sources = runtime.get("config_sources") or []
    extra = [s.path for s in sources if s.get("provider") == "command-line" and s.get("schema") == "file"]
    return ["--config-dir", extra[0]] if extra else []


def prepare(ctx: Any, runner: Any) -> None:
    """For `resume=RUN_DIR`: load the checkpoint into ctx.state, or refuse (InputError) saying why."""
    if ctx.cfg.get("resume") is None:
        return
    run_dir = Path(str(ctx.cfg.resume)).expanduser()
    if run_dir.resolve() != ctx.run_dir.resolve():
        raise InputError(f"resume={ctx.cfg.resume} continues a run in its own dir, but this run writes to "
                         f"{ctx.run_dir}; give hydra.run.dir={run_dir} or leave it out")
    path, payload, passed_over = checkpoint.latest(run_dir)
    if payload is None:
        raise _refusal(ctx, f"{run_dir} has no checkpoint to resume from{_why_none(run_dir, passed_over)}. "
                            "Nothing to continue: start a new run (without resume=)")
    differences = config_differences(OmegaConf.to_container(OmegaConf.create(payload["config"])),
                                     OmegaConf.to_container(ctx.cfg, resolve=True))
    if differences:
        raise _refusal(ctx, f"cannot resume {run_dir}: its checkpoint {path.name} was written with another "
                            f"config: {'; '.join(differences)}. `{RESUME_COMMAND.format(run_dir=run_dir)}` "
                            "resumes with the original overrides; to change these, start a new run")
    if len(payload["rng"]) != ctx.accelerator.num_processes:
        raise _refusal(ctx, f"cannot resume {run_dir}: its checkpoint was written by {len(payload['rng'])} "
                            f"process(es), this run has {ctx.accelerator.num_processes}; launch it the same way")
    ctx.state["resume"], ctx.state["resume_path"] = payload, path
    runner.passed_before = passed_gates(payload)
    ctx.report.checkpoint = {"resumed_from": {"path": str(path), "step": int(payload["step"])}}
    ctx.report.notes += [f"resumed from {path} at train step {payload['step']} of {payload['total']}; "
                         "gates passed before were recorded, not run again"] + passed_over


def config_differences(saved: dict, current: dict) -> list[str]:
    """`key is A there, B now` for every key (outside MAY_DIFFER) whose value differs."""
    old, new = _flat(saved), _flat(current)
    absent = "(absent)"
    keys = sorted(k for k in old.keys() | new.keys() if not any(k == m or k.startswith(m) for m in MAY_DIFFER))
    return [f"{k} is {old.get(k, absent)} there, {new.get(k, absent)} now" for k in keys
            if old.get(k, absent) != new.get(k, absent)]


def passed_gates(payload: dict) -> dict[str, Verdict]:
    """The verdicts a checkpoint recorded as passed (or waived), marked as not run again."""
    found = {}
    for stage in json.loads(payload["gates"]):
        for g in stage["gates"]:
            if g["status"] in ("passed", "waived"):
                message = g["message"] if g["message"].endswith(NOT_RUN_AGAIN) else f"{g['message']} {NOT_RUN_AGAIN}"
                found[g["name"]] = Verdict(g["name"], g["passed"], g["value"], g["expected"], message,
                                           g.get("tip", ""), g["status"])
    return found


def describe(ctx: Any) -> None:
    """Put the latest checkpoint in the report, and how to resume when the run did not pass."""
    paths = checkpoint.complete(ctx.run_dir)
    if not paths:
        return
    info = dict(ctx.report.checkpoint or {})
    info.update(path=str(paths[-1]), step=int(paths[-1].stem.split("-")[1]), resume_command=None)
    if ctx.report.status in ("interrupted", "error"):
        info["resume_command"] = RESUME_COMMAND.format(run_dir=_quoted(str(ctx.run_dir)))
    ctx.report.checkpoint = info


def _refusal(ctx: Any, message: str) -> InputError:
    """A refused resume keeps what the earlier report showed (its stages, gates, checkpoint)."""
    earlier = _earlier_report(ctx.run_dir)
    if earlier:
        ctx.report.stages = earlier.get("stages") or []
        ctx.report.metrics, ctx.report.checkpoint = earlier.get("metrics") or {}, earlier.get("checkpoint")
        ctx.report.notes.append(f"the stages above are from the earlier attempt (status '{earlier.get('status')}'); "
                                "this resume was refused before anything ran")
    return InputError(message)


def _why_none(run_dir: Path, passed_over: list[str]) -> str:
    if passed_over:
        return f" that loads ({'; '.join(passed_over)})"
    earlier = _earlier_report(run_dir)
    if earlier and earlier.get("halted_at"):
        where = earlier["halted_at"]
        return (f": that run halted at {where['stage']}/{where['gate']}, before train wrote one "
                "(see its report.json)")
    if earlier:
        return f": that run ended with status '{earlier.get('status')}' before train wrote one"
    return ""


def _earlier_report(run_dir: Path) -> Optional[dict]:
    try:
        return json.loads((run_dir / "report.json").read_text())
    except (OSError, ValueError):
        return None


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}"""
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}
