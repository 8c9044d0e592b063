"""Checkpoints of the train stage: one self-contained file per save, written atomically, loaded safely.

RUN_DIR/checkpoints/step-00000500.pt holds what `train` needs to go on as if it had never stopped:
the model, optimizer and scheduler states, the step losses so far, the RNG states of Python, NumPy
and torch (CPU and CUDA) on every process, the data order (the shuffling generator as it was when
the current epoch began, and how many batches of that epoch were used), each train hook's state
(`hooks`, by hook name), the gate verdicts so far and the resolved config. Loading uses
`torch.load(weights_only=True)`: no code is unpickled. It also says how far train got in epochs
and training items, whatever the number of processes (`progress.Progress`).

Not `Accelerator.save_state`: it writes a folder of several files (no single atomic rename), pickles
the RNG states with NumPy arrays, and keeps the data position only for stateful loaders. The
Accelerate pieces it is built from are used instead: `get_state_dict`, `gather_object`,
`skip_first_batches`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from ..errors import InputError, Interrupted
from ..record.atomic import DiskFull, in_background, leftovers, no_space, replacing, wait_for_writes
from . import interrupts, sharding
from .hooks import TrainHook, hook_states
from .progress import Progress
from .rng_state import gather_ranks, global_rng, loader_generators, set_global_rng
from .state_keys import eager_keys, model_mismatch

FORMAT = 1
DIR_NAME = "checkpoints"
_NAME = re.compile(r"^step-(\d+)\.pt$")
_NEVER = sys.maxsize


def folder(run_dir: Path) -> Path:
    return run_dir / DIR_NAME


def path_for(run_dir: Path, step: int) -> Path:
    return folder(run_dir) / f"step-{step:08d}.pt"


def complete(run_dir: Path) -> list[Path]:
    """Finished checkpoints, oldest first. A killed writer's temp file never matches the name."""
    found = [(int(m.group(1)), p) for p in folder(run_dir).glob("step-*.pt") if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def load(path: Path) -> dict[str, Any]:
    """One checkpoint, tensors on the CPU; InputError naming the file if it is not a readable one."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or holding objects weights_only refuses
        raise InputError(f"checkpoint {path} cannot be read ({type(err).__name__}: {_first_line(err)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path} is not a saneloop checkpoint of format {FORMAT}")
    return payload


def latest(run_dir: Path) -> tuple[Optional[Path], Optional[dict[str, Any]], list[str]]:
    """The newest checkpoint that loads, and why any newer ones were passed over."""
    passed_over: list[str] = []
    for path in reversed(complete(run_dir)):
        try:
            return path, load(path), passed_over
        except InputError as err:
            passed_over.append(str(err))
    return None, None, passed_over


@dataclass(frozen=True)
class Resumed:
    """A checkpoint a run continues from (`resume=RUN_DIR`), loaded and checked against the config."""

    path: Path
    payload: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.payload["step"])


@dataclass(frozen=True)
class CheckpointPlan:
    """Where and how often the train stage saves, and what goes in a checkpoint besides the states."""

    run_dir: Path
    every: int  # checkpoint.every (0: only at the end and on a signal)
    keep: int  # checkpoint.keep
    config_yaml: str  # the resolved config, compared on resume
    gates_so_far: Callable[[], list[dict[str, Any]]]  # the report's stages and verdicts at save time
    model_target: str  # model._target_, named when a checkpoint does not fit the model
    resumed: Optional[Resumed] = None


class Checkpointer:
    """The train loop's side of checkpoints, costing nothing between them.

    The loop calls `restore` once (a resumed run continues from the step it returns), iterates
    `batches(loader, step)` instead of the loader once per epoch, calls `save` when
    `step >= due` (every `checkpoint.every` steps, or at once after SIGINT/SIGTERM), `finish`
    when done, and `close` in any case.

    Several processes: saving is collective (state gather, barrier), so every rank must reach
    `save` at the same step. The cadence guarantees it; a signal does only if every rank sees it
    before the same step (not yet agreed across ranks: see the GateRunner's rank agreement).
    """

    def __init__(
        self,
        plan: CheckpointPlan,
        accelerator: Any,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        loader: Any,
        hooks: tuple[TrainHook, ...] = (),
    ) -> None:
        self.plan, self.accelerator = plan, accelerator
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.every, self.keep = plan.every, plan.keep
        self.due = self._next_due(0)
        self.total = 0  # the train stage's step count, set by the loop (reported on resume)
        self.last_path: Optional[Path] = None
        self._saved_step: Optional[int] = None
        self._generators = loader_generators(loader)
        self.progress = Progress(len(loader))
        # the epoch `batches` is in (0-based), the step it began at, its shuffling generators' states
        self.epoch, self._epoch_first_step, self._epoch_rng = -1, 0, [g.get_state() for g in self._generators]
        self._resume_at: Optional[tuple[int, int, list[torch.Tensor]]] = None
        self._guard = interrupts.active()
        if self._guard is not None:
            self._guard.defer(self._on_signal)
        self.hooks = hooks  # the train hooks, whose states are saved and restored by name

    def _on_signal(self) -> None:  # runs inside the signal handler: no I/O, just make the next step save
        self.due = 0

    def _next_due(self, step: int) -> int:
        return step + self.every - step % self.every if self.every > 0 else _NEVER

    def restore(self, losses: list[torch.Tensor]) -> int:
        """Load the resumed checkpoint (if this run resumes) into the objects, and its step losses
        into `losses`; return its step."""
        if self.plan.resumed is None:
            return 0
        payload = self.plan.resumed.payload
        self._load_states(payload)
        states = hook_states(payload, list(self.hooks))
        for hook in self.hooks:
            if hook.name in states:
                hook.load_state_dict(states[hook.name])
        step = int(payload["step"])
        losses.extend(payload["losses"].to(self.accelerator.device).unbind())
        self.progress.restore(payload)
        rank = payload["rng"][self.accelerator.process_index]
        set_global_rng(rank)
        self._resume_at = (int(payload["epoch"]), int(payload["batch_in_epoch"]), list(rank["loader"]))
        self._saved_step, self.last_path = step, self.plan.resumed.path
        self.due = self._next_due(step)
        return step

    def batches(self, loader: Any, step: int) -> Iterable[Any]:
        """This epoch's batches: the loader itself, or after a resume the rest of the interrupted epoch."""
        if self._resume_at is not None:
            self.epoch, offset, states = self._resume_at
            self._resume_at = None
            for generator, state in zip(self._generators, states):
                generator.set_state(state)
            self._epoch_first_step, self._epoch_rng = step - offset, states
            _set_iteration(loader, self.epoch)
            if offset:
                from accelerate import skip_first_batches  # skips at the sampler: no data is loaded

                return self.progress.counted(skip_first_batches(loader, offset))
            return self.progress.counted(loader)
        self.epoch += 1
        self._epoch_first_step = step
        self._epoch_rng = [g.get_state() for g in self._generators]  # before iter() draws from them
        _set_iteration(loader, self.epoch)
        return self.progress.counted(loader)

    def save(self, step: int, losses: list[torch.Tensor]) -> None:
        """Write a checkpoint at `step` (once per step); then, if a signal asked for it, stop.

        The one at the last step is written to disk in the background (nothing changes the states
        once training is over): the run goes on to `evaluate` meanwhile, and waits for it at its end
        (`wait_for_writes`). The others are written before the next step, as they must be."""
        stopping = self._guard is not None and self._guard.received
        if self._saved_step != step:
            self._write(step, losses, background=step >= self.total > 0 and not stopping)
        self.due = self._next_due(step)
        if self._guard is not None and self._guard.received:
            wait_for_writes()  # the checkpoint named in the message is on disk
            raise Interrupted(self._guard.received, step, str(self.last_path))

    def finish(self, step: int, losses: list[torch.Tensor]) -> None:
        """The end-of-train checkpoint (what a crash in a later stage resumes from)."""
        self.save(step, losses)

    def close(self) -> None:
        if self._guard is not None:
            self._guard.undefer()

    def _write(self, step: int, losses: list[torch.Tensor], background: bool = False) -> None:
        accelerator, plan = self.accelerator, self.plan
        rng = {**global_rng(), "loader": self._epoch_rng}
        every_rank = [rng] if accelerator.num_processes == 1 else gather_ranks(rng)
        progress = self.progress.record(accelerator, self.epoch, step - self._epoch_first_step)  # every process
        model_state, optimizer_state = sharding.states(accelerator, self.model, self.optimizer)  # every process
        if accelerator.is_main_process:
            payload = {
                "format": FORMAT,
                "step": step,
                "total": self.total,
                "epoch": self.epoch,
                "batch_in_epoch": step - self._epoch_first_step,
                **progress,
                "config": plan.config_yaml,
                "model": model_state,
                "optimizer": optimizer_state,
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "losses": torch.stack(losses[:step]).cpu() if step else torch.zeros(0),
                "rng": every_rank,
                "gates": json.dumps(plan.gates_so_far(), default=str),
                "hooks": {hook.name: hook.state_dict() for hook in self.hooks if hook.name},
            }
            path = path_for(plan.run_dir, step)
            wait_for_writes()  # one write at a time, in order
            if background:
                in_background(lambda: self._store(path, payload))
            else:
                self._store(path, payload)
        self.last_path, self._saved_step = path_for(plan.run_dir, step), step
        accelerator.wait_for_everyone()

    def _store(self, path: Path, payload: dict[str, Any]) -> None:
        fix = f"write fewer or keep fewer checkpoints <checkpoint.every={self.every}, checkpoint.keep={self.keep}>"
        try:
            with replacing(path) as handle:
                _dump(payload, handle)
        except DiskFull as err:  # named with the checkpoint a resume starts from, the newest complete one
            done, then = complete(self.plan.run_dir), f"resume from it (resume={self.plan.run_dir})"
            raise no_space(f"checkpoint {path.name}", err.why, done[-1] if done else None, then, fix) from err.__cause__
        except OSError as err:
            raise OSError(f"could not write checkpoint {path}: {err}. Free some space, or {fix}") from err
        self._prune()

    def _prune(self) -> None:
        for old in complete(self.plan.run_dir)[: -self.keep]:
            old.unlink(missing_ok=True)
        for tmp in leftovers(folder(self.plan.run_dir)):  # left by a writer that was killed
            tmp.unlink(missing_ok=True)

    def _load_states(self, payload: dict[str, Any]) -> None:
        target = self.accelerator.unwrap_model(self.model)
        where = f"checkpoint {self.plan.resumed.path if self.plan.resumed else '?'}"
        saved = eager_keys(payload["model"])
        problems = model_mismatch(saved, target.state_dict())
        if problems:
            raise InputError(
                f"{where} does not fit the model built from model._target_="
                f"{self.plan.model_target}: {'; '.join(problems)}. The model code changed since "
                "the checkpoint was written: restore it, or start a new run without resume="
            )
        target.load_state_dict(saved)
        try:
            self.optimizer.load_state_dict(payload["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(payload["scheduler"])
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(
                f"{where}: the optimizer or scheduler state does not fit ({err}); their code "
                "changed since the checkpoint was written. Start a new run without resume="
            ) from None


def _dump(payload: dict[str, Any], handle: Any) -> None:
    """The one place bytes are written (tests plant a writer that dies halfway here)."""
    torch.save(payload, handle)


def _set_iteration(loader: Any, epoch: int) -> None:
    """Accelerate's loaders count epochs (samplers with set_epoch use it); keep it right after a skip."""
    if hasattr(loader, "iteration"):
        loader.iteration = epoch


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else ""
