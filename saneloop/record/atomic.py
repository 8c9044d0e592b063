"""Files that appear whole or not at all: write beside the target, fsync, rename over it.

A reader (or a resumed run) never sees a half-written checkpoint, figure or weights file: until
the rename, the bytes live in a hidden `.NAME.*.tmp` file that nothing takes for the real one.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Optional

TMP_SUFFIX = ".tmp"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(OSError):
    """A write that ran out of space, named as such whoever raised it: torch.save turns "No space left on
    device" into `RuntimeError: [enforce fail at inline_container.cc] unexpected pos`, the cause only in
    the traceback above it."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.errno, self.why = errno.ENOSPC, why  # why: what said the disk is full


def no_space(what: str, why: str, kept: Optional[Path], then: str, fix: str) -> DiskFull:
    """A full disk named for the user: what could not be written, the newest whole file that survives, the fix."""
    survivor = (
        f"the newest complete one, {kept}, is intact: free some space, then {then}"
        if kept is not None
        else "no earlier one was written: free some space and start again"
    )
    return DiskFull(f"the disk is full: {what} could not be written ({why}); {survivor}. Or {fix}", why)


def disk_full(err: BaseException) -> Optional[str]:
    """What says a failed write ran out of space (an ENOSPC anywhere in the chain of causes, or torch's
    short-write message), or None."""
    seen: set[int] = set()
    current: Optional[BaseException] = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            return f"{os.strerror(current.errno)}, errno {errno.errorcode[current.errno]}"
        if "No space left on device" in str(current):
            return "No space left on device"
        current = current.__cause__ or current.__context__
    if "unexpected pos" in str(err):  # torch's writer stopped short without saying why: a full disk, nearly always
        return "torch: a write stopped short (unexpected pos), most often on a full disk"
    return None


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
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        why = disk_full(err) if isinstance(err, Exception) and not isinstance(err, DiskFull) else None
        if why is not None:
            raise DiskFull(
                f"no space left on the device to write {path} ({why}); {path.name} is as it was", why
            ) from err
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
    except Exception as err:
        why = None if isinstance(err, DiskFull) else disk_full(err)
        if why is not None:
            raise DiskFull(
                f"no space left on the device to write into {dest} ({why}); its files are as they were", why
            ) from err
        raise
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
