"""`resume=RUN_DIR` on the command line: compose the same config again.

The run's original overrides (from RUN_DIR/.hydra/overrides.yaml) and its `--config-dir`, then the
overrides given now, with the run dir set to RUN_DIR. Hydra is told not to rewrite RUN_DIR/.hydra,
and the pipeline keeps config.yaml, so both go on describing the run as it was started. The
pipeline's half (loading the checkpoint, refusing another config) is `saneloop.engine.resume`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

from omegaconf import OmegaConf

from ..engine.resume import quoted
from ..errors import InputError

_OVERRIDE = re.compile(r"^(?:~|\+\+|\+)?([\w.@/-]+)=")  # Hydra's [~|+|++]key=value


def override_key(arg: str) -> Optional[str]:
    match = None if arg.startswith("-") else _OVERRIDE.match(arg)
    return match.group(1) if match else None


def override_value(arg: str) -> str:
    return arg.split("=", 1)[1].strip().strip("'\"")


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
        raise InputError(
            f"resume={given}: {run_dir} {where}, so it is not a saneloop run dir. Give the run dir "
            "printed at the end of the run to continue (`run dir: ...`)"
        )
    for arg in argv:
        if override_key(arg) == "hydra.run.dir" and Path(override_value(arg)).expanduser().resolve() != run_dir:
            raise InputError(f"resume={given} continues that run in its own dir; drop {arg}")
    now = [a for a in argv if override_key(a) not in (None, "resume", "hydra.run.dir")]
    now_keys = {override_key(a) for a in now}
    before = [
        str(o)
        for o in OmegaConf.load(overrides_file)
        if override_key(str(o)) not in now_keys | {"resume", "hydra.run.dir", "hydra.output_subdir"}
    ]
    flags = [a for a in argv if override_key(a) is None]
    return (
        flags
        + _config_dir_flag(run_dir, flags)
        + before
        + now
        + [f"resume={quoted(str(run_dir))}", f"hydra.run.dir={quoted(str(run_dir))}", "hydra.output_subdir=null"]
        + _no_new_log(run_dir, argv)
    )


def _no_new_log(run_dir: Path, argv: list[str]) -> list[str]:
    """A run started without Hydra's log file (from Python) gets none on resume: the dir gains no file
    the run did not have (Hydra's log goes to the terminal instead); a CLI run's log is appended to."""
    chosen = any(a.lstrip("+~").startswith("hydra/job_logging=") for a in argv)
    return [] if chosen or any(run_dir.glob("*.log")) else ["hydra/job_logging=stdout"]


def _config_dir_flag(run_dir: Path, flags: list[str]) -> list[str]:
    """The `--config-dir` the run was started with, unless one is given now."""
    hydra_file = run_dir / ".hydra" / "hydra.yaml"
    if not hydra_file.is_file():
        return []
    runtime = OmegaConf.load(hydra_file).hydra.runtime
    if runtime.get("cwd") and Path(runtime.cwd).resolve() != Path.cwd().resolve():
        print(
            f"saneloop: note: {run_dir} was started from {runtime.cwd}; if its _target_s import from "
            "there, resume from there",
            file=sys.stderr,
        )
    if any(f in ("--config-dir", "-cd") or f.startswith("--config-dir=") for f in flags):
        return []
    sources = runtime.get("config_sources") or []
    extra = [s.path for s in sources if s.get("provider") == "command-line" and s.get("schema") == "file"]
    return ["--config-dir", extra[0]] if extra else []
