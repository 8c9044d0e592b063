"""Figures drawn off the run's critical path, by child processes that draw while the run goes on.

Drawing is slow next to a small model's training (the default classify run's 16 figures took 1.5 s
of its 7 s), and nothing the run decides depends on a picture. A figure that can be sent to another
process (a `functools.partial` of a module-level function over plain views) goes to one child,
forked at the first figure; any other (a lambda, whose closure cannot be sent) to a child forked for
it alone, which has the lambda already. Each child writes the PNG and answers with a few bytes
(where it is, its size, or why it failed); the run collects the answers at its end, before
report.md is written. Where fork is not safe (not Linux), or no core is free beside the run
(`spare_core`), figures are drawn in the run's own process.

No pipe can fill up and stall either side: jobs go to the child through a sender thread, and the
child's answers are small. The children only run NumPy and matplotlib (not torch, not the parent's
threads).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .figures import rgb

WAIT_S = 120  # the longest the end of a run waits for one figure


@dataclass
class Drawn:
    """One figure's outcome: where its PNG is (and its size), or why it could not be drawn."""

    key: int
    path: Optional[Path]
    height: int = 0
    width: int = 0
    error: Optional[str] = None


def _attempt(key: int, draw: Callable[[], Any], path: Path) -> Drawn:
    try:
        from matplotlib.image import imsave

        pixels = rgb(draw())
        path.parent.mkdir(parents=True, exist_ok=True)
        imsave(path, pixels, format="png")
        return Drawn(key, path, int(pixels.shape[0]), int(pixels.shape[1]))
    except Exception as err:  # noqa: BLE001 - a broken figure must not end a run
        return Drawn(key, None, error=f"{type(err).__name__}: {err}")


def _serve(jobs: Any, answers: Any) -> None:
    """The child: draw each job as it comes, answer with its `Drawn`; stop at None (or when the run is gone)."""
    _as_a_child()
    try:
        while (job := jobs.recv()) is not None:
            answers.send(_attempt(*pickle.loads(job)))
    except (EOFError, OSError):  # the run ended without collecting: nothing left to answer to
        pass
    answers.close()


def _serve_once(key: int, draw: Callable[[], Any], path: Path, answers: Any) -> None:
    """A child forked for one figure that cannot be sent (it inherited `draw` at the fork)."""
    _as_a_child()
    answers.send(_attempt(key, draw, path))
    answers.close()


def _as_a_child() -> None:
    """Ctrl-C is for the run (which still collects what was drawn); SIGTERM ends a child as usual.
    The objects inherited from the run are frozen out of the garbage collector's sweeps: sweeping
    them would write to (and so copy) most of the run's memory pages."""
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def background_allowed() -> bool:
    """Fork drawing children only where it is safe and cheap: Linux (macOS forks badly with threads)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def spare_core() -> bool:
    """Is a core free for drawing beside the run? The last minute's load average counts the run too.

    Drawing in a child costs more CPU in all (a second matplotlib import, the fork) and wins only
    when it runs beside the run, not instead of it: on a machine kept busy by other work the
    figures are drawn in the run's own process, as they always were."""
    try:
        cores = len(os.sched_getaffinity(0))
        return os.getloadavg()[0] <= cores - 0.5
    except (AttributeError, OSError):
        return False


class Drawer:
    """Takes figures as they are made (`submit`); `collect()` waits for those drawn by children."""

    def __init__(self, background: bool = True) -> None:
        self.background = background and background_allowed()
        self._child: Optional[Any] = None
        self._answers: Any = None
        self._outbox: queue.Queue = queue.Queue()
        self._sent: list[int] = []
        self._once: list[tuple[int, Any, Any]] = []  # (key, answers, child) of one-figure children

    def submit(self, key: int, draw: Callable[[], Any], path: Path) -> Optional[Drawn]:
        """Hand the drawing to a child (None: `collect` has its outcome), or, where children are not
        used, draw it now and return the outcome."""
        if not self.background:
            return _attempt(key, draw, path)
        job = _picklable(key, draw, path)
        if job is None:
            answers, send_end = _pipe()
            self._once.append((key, answers, _forked(_serve_once, (key, draw, path, send_end))))
            send_end.close()
            return None
        if self._child is None:
            self._start()
        self._outbox.put(job)  # the sender thread writes it to the child: this never waits
        self._sent.append(key)
        return None

    def collect(self) -> list[Drawn]:
        """Wait for the children's drawings: their outcomes, in the order they were submitted."""
        done = [_answer(key, answers) for key, answers, _ in self._once]
        children = [child for _, _, child in self._once]
        if self._child is not None:
            self._outbox.put(None)
            done += [_answer(key, self._answers) for key in self._sent]
            children.append(self._child)
        for child in children:
            child.join(timeout=5)
            if child.is_alive():  # stuck: what it had left to draw is already counted as lost
                child.terminate()
        self._child, self._sent, self._once = None, [], []
        return sorted(done, key=lambda d: d.key)

    def _start(self) -> None:
        jobs, to_child = _pipe()
        self._answers, answers_end = _pipe()
        self._child = _forked(_serve, (jobs, answers_end))
        jobs.close()
        answers_end.close()
        threading.Thread(target=_send_all, args=(self._outbox, to_child), daemon=True).start()


def _send_all(outbox: queue.Queue, to_child: Any) -> None:
    """The parent's sender thread: jobs to the child, in order, until None (sent too)."""
    while True:
        job = outbox.get()
        try:
            to_child.send(job)
        except OSError:  # the child is gone: collect() reports its figures as lost
            return
        if job is None:
            return


def _picklable(key: int, draw: Callable[[], Any], path: Path) -> Optional[bytes]:
    try:
        return pickle.dumps((key, draw, path))
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def _pipe() -> tuple[Any, Any]:
    """(receiving end, sending end)."""
    return multiprocessing.get_context("fork").Pipe(duplex=False)


def _forked(target: Callable[..., None], args: tuple) -> Any:
    with warnings.catch_warnings():  # Python 3.12+ warns on fork with threads; the child runs no torch
        warnings.simplefilter("ignore", DeprecationWarning)
        child = multiprocessing.get_context("fork").Process(target=target, args=args, daemon=True)
        child.start()
    return child


def _answer(key: int, answers: Any) -> Drawn:
    try:
        if not answers.poll(WAIT_S):
            return Drawn(key, None, error=f"the drawing process gave nothing in {WAIT_S} s")
        return answers.recv()
    except (EOFError, OSError) as err:  # the child died (e.g. killed): its figure is lost
        return Drawn(key, None, error=f"the drawing process ended early ({type(err).__name__})")
