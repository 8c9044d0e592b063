"""A run dir belongs to one run: a lock while a run writes it, and no new run over a finished one.

The process that writes a run dir (the main one) holds `.saneloop.lock` in it (an OS file lock,
`filelock`: released by the OS when the process dies, so a killed run never blocks the next) and
says who it is in `.saneloop.holder.json` (pid, host, start time), which a refused run names. A
holder file left by a process that is gone is a stale lock: taken over, with a note.

A dir that already holds a run's results (report.json, config.yaml, checkpoints/, tensorboard/,
model.safetensors) is refused to a new run unless it asks `output.overwrite=true`: then those files
are moved into `<dir>/previous-<time>/`, never mixed with the new run's and never deleted. A
resumed run continues its own dir, so only the lock applies to it.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Optional

from filelock import FileLock, Timeout

from ..errors import EXIT_INPUT_ERROR, InputError

LOCK = ".saneloop.lock"
HOLDER = ".saneloop.holder.json"
PREVIOUS = "previous-"
RUN_FILES = ("report.json", "config.yaml", "checkpoints", "tensorboard", "model.safetensors")


class RunDirTaken(InputError):
    """The run dir is another run's: in use by a live run, or holding a finished one."""


@dataclass
class _Held:
    lock: FileLock
    count: int = 1
    notes: list[str] = field(default_factory=list)


_HELD: dict[Path, _Held] = {}  # run dirs this process holds, by resolved path (claims nest)


def claim(run_dir: Path, overwrite: bool = False, resuming: bool = False, keep: tuple[str, ...] = ()) -> list[str]:
    """Hold `run_dir` for this process's run (again, if it already does) and make room for it: raise
    RunDirTaken when another run holds it or it holds a finished run (unless `overwrite`: moved aside,
    all but the names in `keep`). Returns what the report should note (a stale lock, files moved)."""
    key = run_dir.resolve()
    if key in _HELD:
        _HELD[key].count += 1
    else:
        _HELD[key] = _Held(_locked(key), notes=_took_over(key))
        _write_holder(key)
    try:
        if not resuming:
            _HELD[key].notes += _make_room(run_dir, overwrite, keep)
    except BaseException:
        release(run_dir)
        raise
    return list(_HELD[key].notes)


def release(run_dir: Path) -> None:
    """Let go of `run_dir` once every claim on it has ended; the lock file stays (it marks nothing)."""
    key = run_dir.resolve()
    held = _HELD.get(key)
    if held is None:
        return
    held.count -= 1
    if held.count == 0:
        del _HELD[key]
        (key / HOLDER).unlink(missing_ok=True)
        held.lock.release()


def holds_run(run_dir: Path) -> bool:
    """Whether `run_dir` holds an earlier run's results (a report of a config refused before anything
    ran is none: a run may start there again after the fix)."""
    present = [name for name in RUN_FILES if (run_dir / name).exists()]
    if present != ["report.json"]:
        return bool(present)
    earlier = _report(run_dir) or {}
    return not (earlier.get("exit_code") == EXIT_INPUT_ERROR and not earlier.get("stages"))


def move_aside(run_dir: Path, keep: tuple[str, ...] = ()) -> Path:
    """Move everything in `run_dir` (but the lock, earlier `previous-*` dirs and the names or patterns
    in `keep`) into a new `previous-<time>/` inside it; returns that folder."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    dest, k = run_dir / f"{PREVIOUS}{stamp}", 0
    while dest.exists():
        k += 1
        dest = run_dir / f"{PREVIOUS}{stamp}-{k}"
    dest.mkdir()
    for entry in sorted(run_dir.iterdir()):
        if any(fnmatch(entry.name, name) for name in (LOCK, HOLDER, f"{PREVIOUS}*", *keep)):
            continue
        os.replace(entry, dest / entry.name)
    return dest


def _locked(run_dir: Path) -> FileLock:
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_dir / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunDirTaken(
            f"{run_dir} is in use by another run ({_holder_text(run_dir) or 'starting up'}): two runs in one dir "
            "would mix their reports. Wait for it to end, or give this run its own dir (hydra.run.dir=DIR)"
        ) from None
    return lock


def _took_over(run_dir: Path) -> list[str]:
    """A holder file with no lock behind it: its process died without letting go."""
    holder = _holder_text(run_dir)
    return [f"took over the run dir's lock from {holder}, which is gone (a stale lock)"] if holder else []


def _write_holder(run_dir: Path) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }
    tmp = run_dir / f".{HOLDER}.tmp"
    tmp.write_text(json.dumps(holder))
    os.replace(tmp, run_dir / HOLDER)


def _holder_text(run_dir: Path) -> Optional[str]:
    try:
        holder = json.loads((run_dir / HOLDER).read_text())
    except (OSError, ValueError):
        return None
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}: {holder.get('command')}"


def _make_room(run_dir: Path, overwrite: bool, keep: tuple[str, ...]) -> list[str]:
    if not holds_run(run_dir):
        return []
    if not overwrite:
        raise RunDirTaken(_finished_message(run_dir))
    dest = move_aside(run_dir, keep)
    return [f"an earlier run's files were moved to {dest} <output.overwrite=true>"]


def _finished_message(run_dir: Path) -> str:
    earlier = _report(run_dir) or {}
    status = f"status '{earlier['status']}'" if earlier.get("status") else "no report"
    hint = ""
    if earlier.get("status") in ("interrupted", "error") and (run_dir / "checkpoints").is_dir():
        hint = f"To continue it: python -m saneloop resume={run_dir}. "
    return (
        f"{run_dir} already holds an earlier run ({status}): a new run there would mix with it. {hint}"
        f"To start over there, add output.overwrite=true (its files are moved to {run_dir}/{PREVIOUS}<time>/, "
        "nothing is deleted); or give this run its own dir (hydra.run.dir=DIR)"
    )


def _report(run_dir: Path) -> Optional[dict]:
    try:
        return json.loads((run_dir / "report.json").read_text())
    except (OSError, ValueError):
        return None
