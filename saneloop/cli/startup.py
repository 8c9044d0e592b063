"""What can go wrong before the pipeline starts, said clearly: a bad config key or value, an unknown
config option, a run dir that cannot be written, a resume dir that is not a run dir.

Hydra composes the config and creates the run dir before saneloop's code runs; on failure it
prints its own message and exits 1, leaving no report. `launch` runs Hydra with HYDRA_FULL_ERROR
set, so such a failure comes back here as an exception instead: it is turned into one message
that names the key and the fix, a report.json (status `error`) in the run dir where one can be
written, and EXIT_INPUT_ERROR. Failures once the pipeline has started are the pipeline's business.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

from ..config.explain import describe, run_dir_failed
from ..config.store import conf_dir
from ..errors import EXIT_INPUT_ERROR, InputError
from ..record.report import Report
from ..record.run_dir import RunDirTaken, holds_run
from .claim import ClaimRefused
from .resume_argv import override_key, override_value, resume_argv

_NOT_A_RUN = {
    "--cfg",
    "-c",
    "--help",
    "-h",
    "--hydra-help",
    "--info",
    "-i",
    "--multirun",
    "-m",
    "--shell-completion",
    "-sc",
}
_state = {"started": False, "env": None}


def launch(hydra_main: Callable[[], Any], argv: list[str]) -> Optional[int]:
    """Run `hydra_main` on `argv` (resume=DIR expanded). Returns EXIT_INPUT_ERROR if it failed before
    the pipeline started (after saying why), else None."""
    try:
        argv = resume_argv(argv)
    except InputError as err:  # no run dir of ours to write a report into
        print(f"saneloop: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    sys.argv[1:] = argv
    _state["started"], _state["env"] = False, os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing and exiting
    try:
        hydra_main()
    except ClaimRefused as refused:  # before Hydra wrote anything into the run dir
        return _refuse(refused.error, argv)
    except Exception as err:
        if _state["started"]:
            raise
        return _refuse(err, argv)
    finally:
        started()
    return None


def started() -> None:
    """Called as the task starts: from here on, errors are the pipeline's to report."""
    _state["started"] = True
    if _state["env"] is None:
        os.environ.pop("HYDRA_FULL_ERROR", None)
    else:
        os.environ["HYDRA_FULL_ERROR"] = _state["env"]


def _refuse(err: Exception, argv: list[str]) -> int:
    if _state["env"] == "1":  # the user asked for full tracebacks
        traceback.print_exception(err)
    if isinstance(err, RunDirTaken):  # the dir is another run's: nothing is written into it
        print(f"saneloop: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    message = describe(err)
    print(f"saneloop: {message}", file=sys.stderr)
    if not run_dir_failed(err) and not any(a.split("=")[0] in _NOT_A_RUN for a in argv):
        _write_report(argv, message)
    return EXIT_INPUT_ERROR


def _write_report(argv: list[str], message: str) -> None:
    overrides = {override_key(a): override_value(a) for a in argv if override_key(a)}
    recipe = overrides.get("recipe") or "unknown"
    run_dir = Path(overrides.get("hydra.run.dir") or _default_run_dir(recipe))
    if holds_run(run_dir):  # an earlier run's report stays as it was; the message went to stderr
        return
    report = Report(run_dir, recipe)
    report.status, report.error, report.exit_code = "error", message, EXIT_INPUT_ERROR
    try:
        report.write()
    except OSError:
        return
    print(f"run dir: {run_dir}  exit status {EXIT_INPUT_ERROR}", file=sys.stderr)


def _default_run_dir(recipe: str) -> str:
    """hydra.run.dir of conf/saneloop.yaml, with ${recipe} and ${now:FORMAT} filled in as Hydra would."""
    pattern = OmegaConf.to_container(OmegaConf.load(conf_dir() / "saneloop.yaml"))["hydra"]["run"]["dir"]
    now = datetime.now()
    pattern = pattern.replace("${recipe}", recipe)
    return re.sub(r"\$\{now:([^}]*)\}", lambda m: now.strftime(m.group(1)), pattern)
