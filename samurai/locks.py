"""One writer per output folder: an OS file lock taken before a run touches its ``--out``.

``output_lock(out)`` holds ``fcntl.flock`` on ``.<name>.samurai-lock`` in ``out``'s parent for as
long as the run goes. The kernel releases it when the process ends, however it ends (an
exception, Ctrl-C, SIGKILL, a crash), so a lock is never stale; the file names the holder's
process id so a second run is told who holds it. The lock file is removed on release (under
the lock, and a waiter that finds its file gone takes a fresh one), so none is left beside the
output.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> with output_lock(out):
...     pass
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path


class OutputBusyError(Exception):
    """Another process is writing the same output folder (the message names its PID)."""


def lock_path(out: str | os.PathLike) -> Path:
    """The lock file of output folder ``out``: beside it, so it exists before ``out`` does and
    survives ``out`` being replaced."""
    out = Path(out).absolute()
    return out.parent / f".{out.name}.samurai-lock"


@contextlib.contextmanager
def output_lock(out: str | os.PathLike, flag: str = "--out") -> Iterator[Path]:
    """Hold the lock of ``out`` for the ``with`` block; raise :class:`OutputBusyError` at once
    (no waiting) when another process holds it, naming that process (``flag`` is how the
    message calls the folder). The parent folder is created when missing."""
    import fcntl

    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise OutputBusyError(
                f"{flag} {out} is being written by another samurai run ({holder}); wait for it "
                f"to finish or stop it, or choose another {flag}"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # The holder before us may have removed the file on release: lock the file that is there.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)  # releases the lock


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "a process that has not written its id yet"
