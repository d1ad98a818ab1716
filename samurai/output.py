"""A run's output folder and atomic file writes.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``),
and a whole run's outputs go through ``OutputDir``: they are written into a sibling
``OUT.partial-XXXX`` folder that is renamed to ``OUT`` only at the end, after a manifest,
so that a run that fails never leaves an output that looks complete, never replaces what this
project did not write, and a run killed outright leaves a partial folder that the next run
recognises as abandoned (docs/cli.md, "Exit codes and output guarantees").

Standard library only: the demo and the training loop use it on machines without torch. The
manifest records the versions of the packages a result depends on (:func:`package_versions`);
``samurai.provenance`` gives the rest of a run's record.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from samurai.errors import UserError

MANIFEST = "manifest.json"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~process_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def process_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


class OutputError(UserError):
    """An output folder that cannot be used or written: the message names it and the fix."""


# The owner marker of a folder under construction (host, pid, process start): it tells the next
# run whether the folder is abandoned, and that it is this project's to remove.
PARTIAL_MARKER = ".samurai-partial.json"


_SPACE_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def written_by_samurai(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a finished run of this project (its ``manifest.json`` says so).

    Manifests carry ``"tool": "samurai"``; those of earlier versions are recognised by
    ``"complete": true`` with a ``files`` list.
    """
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    return manifest.get("tool") == "samurai" or (
        manifest.get("complete") is True and isinstance(manifest.get("files"), list)
    )


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (Linux), telling a reused pid from its owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or _process_start(pid) in (None, start)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


class OutputDir:
    """A run's output folder that appears complete or not at all, and never replaces foreign data.

    Use as a context manager: files go into ``<out>.partial-XXXX`` (``self.path``); on a clean
    exit a manifest listing every file is written last and the folder is renamed to ``out``.
    On an exception (Ctrl-C and SIGTERM included) the partial folder is removed, so nothing that
    looks like a finished run is left behind.

    Refused up front with :class:`OutputError` (before any work): ``out`` that is the working
    directory or one of its parents, a plain file, an existing folder without ``force``, and,
    even with ``force``, a non-empty folder that this project did not write
    (:func:`written_by_samurai`). A partial folder carries an owner marker (host, pid, process
    start time); the next run on the same ``out`` removes those whose process is gone (killed
    with SIGKILL, power cut) and says so on stderr. A write that fails (folder not writable,
    disk full) becomes an OutputError naming the folder and, for a full disk, the space.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with OutputDir(root / "run") as out:
    ...     (out.path / "a.txt").write_text("hi")
    2
    >>> sorted(p.name for p in (root / "run").iterdir())
    ['a.txt', 'manifest.json']
    """

    def __init__(
        self, out: str | os.PathLike, force: bool = False, info: dict | None = None, lock: bool = True
    ):
        self.out = Path(out)
        self.force = force
        self.info = dict(info or {})
        # One writer per --out (samurai.locks), taken before the checks that sweep abandoned
        # folders: a live run's partial folder is never another run's to judge. ``lock=False``:
        # the caller holds it for longer (eval keeps its work folder beside the output).
        self._lock = contextlib.ExitStack()
        self._take_lock = lock
        try:
            self._build()
        except BaseException:
            self._lock.close()
            raise

    def _build(self) -> None:
        try:
            self._check_target()
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f"{self.out.name}.partial-"))
        except OSError as err:
            raise self._write_error(err) from None
        try:
            os.chmod(self.path, 0o777 & ~process_umask())
            self._mark(self.path)
        except BaseException as err:  # an unmarked partial folder would never be swept
            shutil.rmtree(self.path, ignore_errors=True)
            if isinstance(err, OSError):
                raise self._write_error(err) from None
            raise

    # ------------------------------------------------------------------ checks before work
    def _check_target(self) -> None:
        out, target = self.out, self.out.resolve()
        cwd = Path.cwd().resolve()
        if target == cwd or target in cwd.parents:
            raise OutputError(
                f"--out {out} is the working directory or a folder above it; a run replaces its "
                "output folder as a whole, so give it a folder of its own, e.g. --out results/run1"
            )
        blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise OutputError(
                f"--out {out} cannot be made: {blocking} is a file, not a folder; choose another --out"
            )
        if self._take_lock:
            from samurai.locks import output_lock

            self._lock.enter_context(output_lock(out))
        if out.parent.is_dir():
            self.sweep_stale()  # first: it may put back a run that a killed process moved aside
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            raise OutputError(
                f"--out {out} is a file or a symbolic link, not an output folder; samurai never "
                "replaces it: choose another --out"
            )
        if not out.exists():
            return
        if not self.force:
            raise OutputError(
                f"output folder {out} already exists; pass --force to replace it (only a folder "
                "written by samurai, or an empty one, is replaced) or choose another --out"
            )
        if not self._replaceable():
            raise OutputError(
                f"--force refused: {out} holds files that samurai did not write (no samurai "
                "manifest.json in it), and samurai replaces only its own run folders or empty "
                "ones; choose another --out, or move that folder away yourself"
            )

    def _replaceable(self) -> bool:
        return written_by_samurai(self.out) or not any(self.out.iterdir())

    # ------------------------------------------------------------------ abandoned folders
    @staticmethod
    def _mark(folder: Path) -> None:
        owner = {
            "tool": "samurai",
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "start": _process_start(os.getpid()),
        }
        (folder / PARTIAL_MARKER).write_text(json.dumps(owner) + "\n")

    def sweep_stale(self) -> list[Path]:
        """Remove the partial / moved-aside folders of ``out`` whose owner process is gone.

        Only folders named ``<out>.partial-*`` or ``<out>.old-*`` that hold this project's owner
        marker are considered; those of a live process or of another host are left alone (the
        message says how to remove them). A moved-aside previous run whose replacement never
        arrived is put back at ``out``. Returns the folders removed or restored.
        """
        done = []
        for folder in sorted(self.out.parent.glob(f"{glob.escape(self.out.name)}.*-*")):
            kind = folder.name[len(self.out.name) + 1 :].split("-", 1)[0]
            if kind not in ("partial", "old") or not folder.is_dir() or folder.is_symlink():
                continue
            try:
                owner = json.loads((folder / PARTIAL_MARKER).read_text())
                pid, host = int(owner["pid"]), owner["host"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if host != socket.gethostname():
                print(
                    f"note: {folder} was left by process {pid} on host {host}; if that run has "
                    "ended, remove the folder yourself",
                    file=sys.stderr,
                )
                continue
            if _alive(pid, owner.get("start")):
                continue
            previous = folder / "previous"
            if kind == "old" and previous.is_dir() and not self.out.exists():
                os.replace(previous, self.out)
                print(
                    f"restored {self.out} from {folder}, left by process {pid} that was "
                    "killed while replacing it",
                    file=sys.stderr,
                )
            else:
                print(
                    f"removed {folder}: an unfinished output of process {pid}, which was "
                    "killed (SIGKILL or power loss)",
                    file=sys.stderr,
                )
            shutil.rmtree(folder)
            done.append(folder)
        return done

    # ------------------------------------------------------------------ errors while writing
    def _write_error(self, err: OSError, written: int | None = None) -> OutputError:
        where = self.out.parent if not self.out.parent.exists() else self.out
        text = f"cannot write output folder {where}: {(err.strerror or os.strerror(err.errno)) if err.errno else err}"
        if err.errno in _SPACE_ERRNOS:
            free = shutil.disk_usage(self.out.parent).free
            wrote = f"the run had written {_human(written)} when it filled up; " if written else ""
            text += (
                f" ({wrote}{_human(free)} left on that file system, its partial output "
                "removed); free some space or choose an --out on another disk"
            )
        elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            text += "; choose an --out in a folder you can write to"
        else:
            text += f" ({err}); choose another --out"
        return OutputError(text)

    def _concerns_output(self, err: BaseException) -> bool:
        if not isinstance(err, OSError):
            return False
        if err.errno in _SPACE_ERRNOS:
            return True
        name = getattr(err, "filename", None)
        if name is None:
            return False
        path, partial = Path(os.fsdecode(name)).resolve(), self.path.resolve()
        return path == partial or partial in path.parents

    # ------------------------------------------------------------------ finishing
    def __enter__(self) -> OutputDir:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        with self._lock:  # released once the output is in place or removed
            return self._exit(exc_type, exc)

    def _exit(self, exc_type, exc) -> bool:
        if exc_type is not None:
            written = _tree_size(self.path) if self._concerns_output(exc) else None
            shutil.rmtree(self.path, ignore_errors=True)
            if written is not None:
                raise self._write_error(exc, written) from None
            return False
        try:
            self._finish()
        except OSError as err:
            written = _tree_size(self.path) if self.path.exists() else None
            shutil.rmtree(self.path, ignore_errors=True)
            raise self._write_error(err, written) from None
        except BaseException:  # Ctrl-C / SIGTERM while finishing: no unmarked folder stays
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        return False

    def _finish(self) -> None:
        # The owner marker stays until the folder is in place: a run killed between the renames
        # below leaves a finished folder that the next run must still recognise as abandoned.
        files = sorted(
            str(p.relative_to(self.path))
            for p in self.path.rglob("*")
            if p.is_file() and p.relative_to(self.path) != Path(PARTIAL_MARKER)
        )
        manifest = {
            "tool": "samurai",
            **self.info,
            "packages": package_versions(),
            "complete": True,
            "files": files,
        }
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
        if self.out.exists():
            if not self._replaceable():  # it changed while this run worked
                raise OutputError(
                    f"{self.out} was filled with other files during this run; its result is not "
                    "written over them: choose another --out"
                )
            # Move the old run aside first (marked, so that a run killed between the two steps
            # gets it back at the next start) and only then put the new one in place.
            old = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f"{self.out.name}.old-"))
            try:
                self._mark(old)
                os.replace(self.out, old / "previous")
                try:
                    os.replace(self.path, self.out)
                except BaseException:
                    os.replace(old / "previous", self.out)
                    raise
            finally:
                if self.out.exists():  # never while it holds the only copy of the earlier run
                    shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.path, self.out)
        (self.out / PARTIAL_MARKER).unlink(missing_ok=True)


def package_versions() -> dict:
    """Installed versions of the packages a run's result depends on (None: not installed)."""
    from importlib import metadata

    from samurai import __version__

    versions = {"samurai": __version__}
    for name in ("torch", "sam2", "jax", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
