"""Many processes, one run: one run dir, one verdict per gate, one stopping point, no hangs.

Under `torchrun` / `accelerate launch` every process runs the whole pipeline. They must agree on
everything that decides what happens next, or one of them waits forever in a collective the
others never join. This module is where they agree:

- `share_run_dir`: the main process's Hydra run dir is the run dir of all (Hydra's `${now:...}`
  differs per process); the empty dir another process's Hydra made is removed.
- `agree`: one gate verdict for all. A gate that fails, or raises, on any process decides the
  outcome everywhere (the lowest such process's verdict, broadcast), so all halt together.
- `earliest`: one early-stop step for all (a NaN loss seen on one process stops every process).
- `share_failure`: a crash on one process is told to the others through the process group's
  key-value store, so the report written by the main process names the process that failed
  first and why, not only the broken connection the main process saw next.

A process that dies mid-collective closes its sockets: with gloo the others get an error at once;
with NCCL or a process that hangs they stop at the process-group timeout
(`accelerator.timeout_s`). `torchrun` also ends the other workers once one has exited non-zero.

With one process every function here returns at once and nothing is communicated.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

import torch
from accelerate.utils import InitProcessGroupKwargs, broadcast_object_list

from ..checks.base.verdict import Verdict
from ..errors import InputError

# Environment variables that launchers set for each process: torchrun / accelerate launch, then MPI.
_RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_FAILURE_KEY = "saneloop/failure"  # the first failure's text, in the process group's store
_FAILURE_COUNT = "saneloop/failures"
_REPORTED_KEY = "saneloop/reported"  # set by the main process once report.json is written
_STORE_TIMEOUT = timedelta(seconds=5)  # never wait long on a store whose host may be gone
_REPORT_WAIT = timedelta(seconds=60)  # how long other processes wait for the main one's report

# Outcome of a gate on one process, worst last.
_PASSED, _FAILED, _RAISED = 0, 1, 2


class PeerFailure(RuntimeError):
    """Another process raised while deciding a gate; this one stops with it."""


def launched_rank() -> int:
    """This process's rank as the launcher set it (0 when not launched as many processes)."""
    return _env_int(_RANK_VARS, 0)


def launched_world_size() -> int:
    return _env_int(_SIZE_VARS, 1)


def accelerator_kwargs(timeout_s: int) -> dict[str, Any]:
    """What many processes add to `Accelerator(...)`: the collective timeout (`accelerator.timeout_s`), and
    CPU when there is no accelerator to run on (Accelerate only starts gloo on CPU when told `cpu=True`)."""
    kwargs: dict[str, Any] = {"kwargs_handlers": [InitProcessGroupKwargs(timeout=timedelta(seconds=int(timeout_s)))]}
    if launched_world_size() > 1 and not _has_accelerator():
        kwargs["cpu"] = True
    return kwargs


def quiet_hydra_overrides(argv: list[str]) -> list[str]:
    """Hydra overrides for processes other than the main one: no `.hydra/` files, no log files.

    The main process's run dir holds the run's config and logs; the others only compute.
    """
    if launched_rank() == 0:
        return []
    wanted = {"hydra.output_subdir": "null", "hydra/job_logging": "disabled", "hydra/hydra_logging": "disabled"}
    given = {arg.split("=", 1)[0].lstrip("+~") for arg in argv}
    return [f"{key}={value}" for key, value in wanted.items() if key not in given]


def notes(accelerator: Any) -> list[str]:
    """What the report says about the processes and precision, when there is something to say."""
    said = []
    if accelerator.num_processes > 1:
        said.append(
            f"{accelerator.num_processes} processes ({accelerator.distributed_type.value}, "
            f"device {accelerator.device.type}): training data sharded, test set split and gathered "
            "back, every gate verdict agreed by all"
        )
    if accelerator.mixed_precision != "no":
        said.append(
            f"mixed precision {accelerator.mixed_precision} in train/evaluate; the gates before "
            "train measure in full precision"
        )
    if accelerator.gradient_accumulation_steps > 1:
        said.append(
            f"gradient accumulation over {accelerator.gradient_accumulation_steps} batches "
            "<accelerator.gradient_accumulation_steps>"
        )
    return said


def share_run_dir(accelerator: Any, own: Path) -> Path:
    """The main process's run dir, on every process; the empty one this process's Hydra made goes."""
    if accelerator.num_processes == 1:
        return own
    chosen = [str(own)]
    broadcast_object_list(chosen, from_process=0)
    shared = Path(chosen[0])
    if shared != own:
        try:
            own.rmdir()  # only ever removes an empty dir (made by this process's Hydra a moment ago)
        except OSError:
            pass
    return shared


def agree(accelerator: Any, where: str, decide: Callable[[], Verdict]) -> Verdict:
    """Run `decide` on every process and return one outcome for all of them.

    Every process passed: its own verdict (the main process's is the one reported). Some process
    failed: the failed verdict of the lowest such process, on every process, saying which
    processes failed. Some process raised: it re-raises; the others raise a PeerFailure (an
    InputError if that is what it was) naming that process and its error.
    """
    if accelerator.num_processes == 1:
        return decide()
    verdict: Optional[Verdict] = None
    error: Optional[BaseException] = None
    try:
        verdict = decide()
        outcome = _FAILED if verdict.status == "failed" else _PASSED
    except Exception as err:  # told to the others below, then re-raised here
        error, outcome = err, _RAISED
        # Recorded before any other process hears of it, so the report names this process first
        # (the text `share_failure` gives it once the pipeline catches it).
        text = str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}"
        _publish_first(f"process {accelerator.process_index} of {accelerator.num_processes}: {text}")
    outcomes = accelerator.gather(torch.tensor([outcome], device=accelerator.device)).tolist()
    worst = max(outcomes)
    if worst == _PASSED:
        return verdict
    origin = outcomes.index(worst)  # the lowest process with the worst outcome speaks for all
    mine = verdict if error is None else (isinstance(error, InputError), f"{type(error).__name__}: {error}")
    message = [mine if accelerator.process_index == origin else None]
    broadcast_object_list(message, from_process=origin)
    if worst == _RAISED:
        if error is not None:
            raise error
        is_input_error, text = message[0]
        who = f"process {origin} of {accelerator.num_processes} at {where}: {text}"
        raise InputError(who) if is_input_error else PeerFailure(who)
    failed = message[0]
    ranks = [rank for rank, value in enumerate(outcomes) if value == _FAILED]
    return replace(failed, message=f"{failed.message} ({_which(ranks, accelerator.num_processes)})")


def earliest(accelerator: Any, step: Optional[int]) -> Optional[int]:
    """The earliest of the processes' steps (None: none of them has one)."""
    if accelerator.num_processes == 1:
        return step
    mine = torch.tensor([-1 if step is None else int(step)], device=accelerator.device)
    steps = [s for s in accelerator.gather(mine).tolist() if s >= 0]
    return min(steps) if steps else None


def summed(accelerator: Any, count: int) -> int:
    """`count` summed over the processes (a gather: every process calls it at the same point)."""
    if accelerator.num_processes == 1:
        return count
    return int(accelerator.gather(torch.tensor([count], device=accelerator.device)).sum())


def share_failure(accelerator: Any, text: str, show_traceback: bool = True) -> str:
    """Tell the other processes what went wrong here; return the error line for the report.

    If another process failed first, its failure leads the line: the error here is then most
    likely the broken connection to it. Other processes' terminals are quiet, so a process other
    than the main one prints its own failure (and traceback) to stderr.
    """
    if accelerator.num_processes == 1:
        return text
    rank, size = accelerator.process_index, accelerator.num_processes
    if accelerator.is_main_process:
        _hold_sigterm(True)  # until the report is written (`finish`)
    mine = f"process {rank} of {size}: {text}"
    first = _publish_first(mine)
    line = mine if first in (None, mine) else f"{first} (then {_shorten(mine)})"
    if not accelerator.is_main_process:
        shown = traceback.format_exc() if show_traceback and first in (None, mine) else ""
        print(f"[saneloop process {rank}] {line}\n{shown}".rstrip(), file=sys.stderr, flush=True)
    return line


def finish(accelerator: Any, in_step: bool) -> None:
    """Leave so that the main process's report is always written.

    `torchrun` ends every process (SIGTERM) as soon as one exits with a non-zero status. In step
    (passed, halted) the other processes wait until the main one says its report is written. Out
    of step (a crash here or elsewhere) they leave at once: exiting closes their connections, which
    is what tells a main process still waiting in a collective; the main process holds SIGTERM
    back from its first failure (`share_failure`) until its report is written (here).
    """
    if accelerator.num_processes == 1:
        return
    store = _store()
    if accelerator.is_main_process:
        try:
            if store is not None:
                store.set(_REPORTED_KEY, "1")
        finally:
            _hold_sigterm(False)
        return
    if in_step and store is not None:
        try:
            store.wait([_REPORTED_KEY], _REPORT_WAIT)
        except Exception:  # the main process is gone, or took too long: nothing left to wait for
            pass


def _hold_sigterm(hold: bool) -> None:
    """Defer SIGTERM (the launcher ending this process) while holding; it is delivered on release."""
    if hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread():
        signal.pthread_sigmask(signal.SIG_BLOCK if hold else signal.SIG_UNBLOCK, {signal.SIGTERM})


def _publish_first(text: str) -> Optional[str]:
    """Record `text` as the run's first failure unless one is recorded; return the first one."""
    store = _store()
    if store is None:
        return None
    try:
        if store.add(_FAILURE_COUNT, 1) == 1:
            store.set(_FAILURE_KEY, text)
            return text
        store.wait([_FAILURE_KEY], _STORE_TIMEOUT)
        return store.get(_FAILURE_KEY).decode()
    except Exception:  # the store's host is gone too: say what this process knows
        return None


def _store() -> Any:
    """The default process group's key-value store (it outlives a crashed peer), if there is one."""
    try:
        from torch.distributed import distributed_c10d

        store = distributed_c10d._get_default_store()  # no public accessor; guarded, optional
        store.set_timeout(_STORE_TIMEOUT)
        return store
    except Exception:
        return None


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _which(ranks: list[int], size: int) -> str:
    if len(ranks) == size:
        return f"on all {size} processes"
    names = ", ".join(str(r) for r in ranks)
    return f"on process{'es' if len(ranks) > 1 else ''} {names} of {size}"


def _has_accelerator() -> bool:
    accelerator_api = getattr(torch, "accelerator", None)  # torch >= 2.6
    if accelerator_api is not None:
        return bool(accelerator_api.is_available())
    return torch.cuda.is_available()


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return int(value)
    return default
