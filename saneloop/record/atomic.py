"""Files that appear whole or not at all: write beside the target, fsync, rename over it.

A reader (or a resumed run) never sees a half-written checkpoint, figure or weights file: until
the rename, the bytes live in a hidden `.NAME.*.tmp` file that nothing takes for the real one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TMP_SUFFIX = ".tmp"


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """Open a temp file beside `path` for binary writing; on success it replaces `path` atomically.

    On any exception (or signal) the temp file is removed and `path` is left as it was.
        with replacing(run_dir / "figure.png") as handle:
            fig.savefig(handle, format="png")
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextmanager
def staged_dir(dest: Path) -> Iterator[Path]:
    """A temp folder inside `dest` for writers that take a folder (e.g. `accelerator.save_model`).

    On success every file written there is renamed into `dest` (each rename atomic); on failure
    the folder is removed and `dest` keeps what it had.
    """
    dest.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=dest, prefix=".staged.", suffix=TMP_SUFFIX))
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            if item.is_file():
                with open(item, "rb+") as handle:
                    os.fsync(handle.fileno())
                os.replace(item, dest / item.name)
        _fsync_dir(dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def leftovers(folder: Path) -> list[Path]:
    """Temp files a killed writer left behind in `folder` (never mistaken for real files)."""
    return sorted(folder.glob(f".*{TMP_SUFFIX}")) if folder.is_dir() else []


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_WRITES: list[tuple[threading.Thread, list[BaseException]]] = []  # files being written in the background


def in_background(write: Callable[[], None]) -> None:
    """Run `write` (e.g. an atomic file write) in a thread; `wait_for_writes` waits for it."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            write()
        except BaseException as err:  # noqa: BLE001 - raised again by wait_for_writes
            errors.append(err)

    thread = threading.Thread(target=run, name="saneloop-checkpoint")
    thread.start()
    _WRITES.append((thread, errors))


def wait_for_writes() -> None:
    """Block until every file written in the background is on disk; raise what a write raised."""
    while _WRITES:
        thread, errors = _WRITES.pop(0)
        thread.join()
        if errors:
            raise errors[0]
