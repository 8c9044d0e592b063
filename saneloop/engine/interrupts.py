"""SIGINT (Ctrl-C) and SIGTERM (a scheduler's preemption) end a run cleanly, with a report.

Outside `train` a signal stops the run at once (raises `Interrupted`). Inside `train` the loop has
asked to be told instead (`defer`): the first signal only flags the request, the loop finishes its
step, saves a checkpoint and then raises `Interrupted`; a second signal stops at once (the last
complete checkpoint stays usable). The pipeline turns `Interrupted` into status `interrupted`.

A long loop inside the deferred part (the loss curve's validation passes) asks `requested()` between its
batches and raises `Cut` when it is true: its owner drops the unfinished work, and the step's checkpoint
follows within a batch of the signal, not after the whole pass (schedulers allow ~30 s before SIGKILL).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, Optional

import torch

from ..errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)
ELSEWHERE = "a signal to another process"  # the name a process records when only another one was signalled


class Cut(Exception):
    """A loop stopped between batches because a deferred signal asked the run to stop."""


_active: Optional[SignalGuard] = None


class SignalGuard:
    """Installs the handlers for the length of a `with` block (main thread only) and restores them."""

    def __init__(self) -> None:
        self.received: Optional[str] = None  # name of the first signal a deferring loop was told of
        self._on_signal: Optional[Callable[[], None]] = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        global _active
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
            _active = self
        return self

    def __exit__(self, *exc: Any) -> None:
        global _active
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        if _active is self:
            _active = None

    def defer(self, on_signal: Callable[[], None]) -> None:
        """From now on a first signal calls `on_signal()` (cheap, no I/O) instead of raising."""
        self.received, self._on_signal = None, on_signal

    def undefer(self) -> None:
        self._on_signal = None

    @property
    def deferring(self) -> bool:
        return self._on_signal is not None

    def take(self, name: str) -> None:
        """Act as if `name` had arrived here (what another process received): the deferred stop."""
        if self._on_signal is not None and self.received is None:
            self.received = name
            self._on_signal()

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self._on_signal is not None and self.received is None:
            self.take(name)
            return
        raise Interrupted(name)


def active() -> Optional[SignalGuard]:
    """The guard of the running pipeline, if any (stages run by hand in a test have none)."""
    return _active


def requested(accelerator: Any = None) -> bool:
    """Has a deferred signal asked the run to stop? Free outside `train` (nothing defers there: a signal
    raises at once). On several processes the answer is agreed (one flag reduced across them), and a
    process that was not signalled itself takes the stop too, so every process saves at the same step."""
    guard = _active
    if guard is None or not guard.deferring:
        return False
    here = guard.received is not None
    if accelerator is None or accelerator.num_processes == 1:
        return here
    flag = torch.tensor([1.0 if here else 0.0], device=accelerator.device)
    anywhere = float(accelerator.reduce(flag, reduction="sum")) > 0
    if anywhere and not here:
        guard.take(ELSEWHERE)
    return anywhere


def stop_if_requested(accelerator: Any = None) -> None:
    """Raise `Cut` where a deferred signal asked the run to stop (between batches of a long loop)."""
    if requested(accelerator):
        raise Cut("a signal asked the run to stop")
