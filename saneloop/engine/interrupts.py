"""SIGINT (Ctrl-C) and SIGTERM (a scheduler's preemption) end a run cleanly, with a report.

Outside `train` a signal stops the run at once (raises `Interrupted`). Inside `train` the loop has
asked to be told instead (`defer`): the first signal only flags the request, the loop finishes its
step, saves a checkpoint and then raises `Interrupted`; a second signal stops at once (the last
complete checkpoint stays usable). The pipeline turns `Interrupted` into status `interrupted`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, Optional

from ..errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)

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

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self._on_signal is not None and self.received is None:
            self.received = name
            self._on_signal()
            return
        raise Interrupted(name)


def active() -> Optional[SignalGuard]:
    """The guard of the running pipeline, if any (stages run by hand in a test have none)."""
    return _active
